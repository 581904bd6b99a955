package pair

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
)

// Bounds of the link. Every read and write has a deadline and a size limit.
const (
	DefaultPort     = 7946
	DefaultInterval = time.Second
	DefaultTimeout  = time.Second
	// DefaultMaxAge is how far a message's send time may be from this
	// node's clock (the pair's clocks must agree within it: NTP).
	DefaultMaxAge = 2 * time.Minute

	maxPresenceBody = 1 << 20 // a presence with thousands of servers fits
	maxConfigBody   = 8 << 20 // a 4 MiB config file, base64 in JSON
	maxHeaderBytes  = 8 << 10
	maxConns        = 16 // concurrent inbound connections
	logEvery        = 10 * time.Second
)

const (
	pathPresence = "/pair/v1/presence"
	pathConfig   = "/pair/v1/config"
	pathPush     = "/pair/v1/push"
	pathServer   = "/pair/v1/server"
	pathACME     = "/pair/v1/acme"
)

// Presence is what a node tells its peer every interval.
type Presence struct {
	Node      string    `json:"node"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
	UptimeSec float64   `json:"uptime_seconds"`
	// ConfigFile and ConfigHash: the path and the SHA-256 of the whole
	// config file as it is on disk.
	ConfigFile string               `json:"config_file"`
	ConfigHash string               `json:"config_hash"`
	VRRP       []control.PairVRRP   `json:"vrrp"`
	Servers    []control.PairServer `json:"servers"`
	// SplitBrain lists the VRIDs the sender has confirmed as split brain
	// (filled by the link, not by Local).
	SplitBrain []int `json:"split_brain,omitempty"`
	// Admin is the operator's server changes this node knows, with their
	// generations (docs/pair.md#runtime-state); older peers send none.
	Admin []AdminChange `json:"admin,omitempty"`
	// Tickets is the sender's session ticket key id, with the keys when
	// it owns them (tickets.go); older peers and nodes without TLS send
	// none.
	Tickets *TicketShare `json:"tickets,omitempty"`
}

// ConfigFile is a node's config file as sent over the link.
type ConfigFile struct {
	Node    string `json:"node"`
	File    string `json:"file"`
	Content []byte `json:"content"`
}

// message is every request and answer body: who sent it (boot id and
// sequence, for the replay guard) and one payload.
type message struct {
	Boot     string      `json:"boot"`
	Seq      uint64      `json:"seq"`
	Sent     time.Time   `json:"sent"`
	Presence *Presence   `json:"presence,omitempty"`
	Config   *ConfigFile `json:"config,omitempty"`
	// Push and PushResult: `lbctl config push` (sync.go).
	Push       *Push       `json:"push,omitempty"`
	PushResult *PushResult `json:"push_result,omitempty"`
	// Server and ServerResult: an operator's server change (sync.go).
	Server       *AdminChange  `json:"server,omitempty"`
	ServerResult *ServerResult `json:"server_result,omitempty"`
	// ACME is the acme store's replication (writes, leases, manifest),
	// opaque to the link (docs/tls.md).
	ACME json.RawMessage `json:"acme,omitempty"`
	// Stick and StickResult: stick-table updates (stick.go), opaque to
	// the link.
	Stick       []byte       `json:"stick,omitempty"`
	StickResult *StickResult `json:"stick_result,omitempty"`
}

// Options configure a Link.
type Options struct {
	// Dir is the pair directory (Dir(state_dir)) holding the identity and
	// the pinned peer.
	Dir string
	// Listen is the address this node accepts the peer on (host:port).
	Listen string
	// Peer overrides the pinned peer's address ("" uses the pin's).
	Peer string
	// Interval between presence messages; Timeout bounds each exchange.
	Interval, Timeout time.Duration
	// MaxAge bounds a message's send time against this node's clock.
	MaxAge time.Duration
	// Local returns this node's presence; it must not block.
	Local func() Presence
	// ConfigFile returns this node's config file (for `lbctl config diff`).
	ConfigFile func() (ConfigFile, error)
	// StepDown is called (from the link's goroutine) when a split brain on
	// an instance is confirmed and the rule says this node yields; it
	// reports whether this node stepped down. Nil: detection only.
	StepDown func(instance string) bool
	// OnTick is called after every presence round with the status; the
	// daemon uses it to end a step-down. Nil: none.
	OnTick func(control.PairStatus)
	// OnPush applies a config pushed by the peer; OnServer an operator's
	// server change made on the peer; OnPresence sees every presence
	// received (the daemon applies newer admin changes from it). Nil:
	// pushes and server changes are refused, presences only recorded.
	OnPush     func(ctx context.Context, p *Push) PushResult
	OnServer   func(c *AdminChange) ServerResult
	OnPresence func(p *Presence)
	// ACME answers the peer's acme store messages; nil: refused.
	ACME func(req json.RawMessage) (json.RawMessage, error)
	// Stick merges the peer's stick-table updates; an error refuses the
	// message (counted as bad_message). Nil: refused.
	Stick  func(data []byte) (StickResult, error)
	Logger *slog.Logger
	Now    func() time.Time
}

// Link is this node's end of the pair link: a TLS server for the peer's
// messages and a loop that sends this node's presence.
type Link struct {
	opts Options
	id   *Identity
	log  *slog.Logger
	boot string
	seq  atomic.Uint64
	in   guard // messages from the peer, requests and answers alike

	pin    atomic.Pointer[Pin]
	pinMu  sync.Mutex // reloadPin
	pinMod time.Time
	pinLen int64

	tr *http.Transport
	hc *http.Client
	// slow is hc for pushes: the answer comes after the peer's reload.
	slowTr *http.Transport
	slow   *http.Client

	srv    *http.Server
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}

	mu          sync.Mutex
	started     time.Time
	lastContact time.Time
	upSince     time.Time
	firstFail   time.Time
	lastErr     string
	lastErrAt   time.Time
	peer        *Presence
	local       *Presence
	differs     time.Time
	refused     map[string]uint64
	lastLog     map[string]time.Time
	split       map[int]*control.SplitBrain
	pending     map[int]bool
	splitTotal  uint64
	peerN       uint64 // presences received
	evalN       uint64 // peerN at the last split-brain round
}

// New loads the identity (creating it when missing) and the pin.
func New(opts Options) (*Link, error) {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Local == nil {
		opts.Local = func() Presence { return Presence{} }
	}
	host, _ := os.Hostname()
	id, created, err := LoadOrCreateIdentity(opts.Dir, host)
	if err != nil {
		return nil, err
	}
	l := &Link{opts: opts, id: id, log: opts.Logger.With("component", "pair"),
		in:      guard{maxAge: opts.MaxAge},
		refused: map[string]uint64{}, lastLog: map[string]time.Time{},
		split: map[int]*control.SplitBrain{}, pending: map[int]bool{}}
	if created {
		ChownTo(opts.Dir)
		l.log.Info("pair identity created", "fingerprint", id.Fingerprint, "dir", opts.Dir)
	}
	var b [16]byte
	rand.Read(b[:])
	l.boot = hex.EncodeToString(b[:])
	l.reloadPin()

	l.tr = &http.Transport{
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: opts.Timeout}).DialContext,
		TLSClientConfig:        l.tlsConfig(false),
		TLSHandshakeTimeout:    opts.Timeout,
		ResponseHeaderTimeout:  opts.Timeout,
		MaxResponseHeaderBytes: maxHeaderBytes,
		MaxIdleConns:           2,
		MaxIdleConnsPerHost:    2,
		MaxConnsPerHost:        4,
		IdleConnTimeout:        30 * time.Second,
		DisableCompression:     true,
		// HTTP/1.1 only: one protocol to bound and reason about.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	l.hc = &http.Client{Transport: l.tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	l.slowTr = l.tr.Clone()
	l.slowTr.ResponseHeaderTimeout = pushTimeout
	l.slow = &http.Client{Transport: l.slowTr, CheckRedirect: l.hc.CheckRedirect}
	return l, nil
}

// Identity returns this node's identity.
func (l *Link) Identity() *Identity { return l.id }

func (l *Link) tlsConfig(server bool) *tls.Config {
	c := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		MaxVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{l.id.Cert},
		NextProtos:   []string{"http/1.1"},
	}
	if server {
		// Request (not require) a certificate so that a client without
		// one reaches VerifyConnection and is counted.
		c.ClientAuth = tls.RequestClientCert
		c.VerifyConnection = func(cs tls.ConnectionState) error { return l.verify(cs, "client") }
	} else {
		// No CA: the chain is not verified, the pinned fingerprint is.
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error { return l.verify(cs, "server") }
	}
	return c
}

// errRefused marks a peer refused by the pin check.
var errRefused = errors.New("pair: peer refused")

func (l *Link) verify(cs tls.ConnectionState, role string) error {
	pin := l.pin.Load()
	if pin == nil {
		l.refuse("not_paired", role, "no peer pinned yet: run `lbctl pair join`")
		return fmt.Errorf("%w: this node has no pinned peer", errRefused)
	}
	if len(cs.PeerCertificates) == 0 {
		l.refuse("no_certificate", role, "peer presented no certificate")
		return fmt.Errorf("%w: no certificate", errRefused)
	}
	fp := Fingerprint(cs.PeerCertificates[0].Raw)
	if subtle.ConstantTimeCompare([]byte(fp), []byte(pin.Fingerprint)) != 1 {
		l.refuse("wrong_fingerprint", role, "certificate fingerprint "+fp+" is not the pinned "+pin.Fingerprint)
		return fmt.Errorf("%w: fingerprint %s is not the pinned one", errRefused, fp)
	}
	return nil
}

// refuse counts a refusal and logs it at most once per reason every
// logEvery, with the running count.
func (l *Link) refuse(reason, from, detail string) {
	now := l.opts.Now()
	l.mu.Lock()
	l.refused[reason]++
	n := l.refused[reason]
	logIt := now.Sub(l.lastLog[reason]) >= logEvery
	if logIt {
		l.lastLog[reason] = now
	}
	l.mu.Unlock()
	if logIt {
		l.log.Warn("pair: refused", "reason", reason, "from", from, "detail", detail, "refused_total", n)
	}
}

// Start listens on opts.Listen and starts the presence loop.
func (l *Link) Start() error {
	tl, err := net.Listen("tcp", l.opts.Listen)
	if err != nil {
		return fmt.Errorf("pair link: listening on %s: %w", l.opts.Listen, err)
	}
	l.ln = tl
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+pathPresence, l.servePresence)
	mux.HandleFunc("POST "+pathConfig, l.serveConfig)
	mux.HandleFunc("POST "+pathPush, l.servePush)
	mux.HandleFunc("POST "+pathServer, l.serveServer)
	mux.HandleFunc("POST "+pathACME, l.serveACME)
	mux.HandleFunc("POST "+pathStick, l.serveStick)
	l.srv = &http.Server{
		Handler:           mux,
		TLSConfig:         l.tlsConfig(true),
		ReadHeaderTimeout: 2 * time.Second, // also bounds the TLS handshake
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:          log.New(handshakeErrors{l}, "", 0),
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.done = make(chan struct{})
	l.mu.Lock()
	l.started = l.opts.Now()
	l.mu.Unlock()
	go l.srv.Serve(tls.NewListener(&limitListener{Listener: tl, sem: make(chan struct{}, maxConns), l: l}, l.srv.TLSConfig))
	go l.loop(ctx)
	l.log.Info("pair link listening", "listen", tl.Addr().String(), "fingerprint", l.id.Fingerprint)
	return nil
}

// Addr is the address the link listens on (after Start).
func (l *Link) Addr() string {
	if l.ln == nil {
		return l.opts.Listen
	}
	return l.ln.Addr().String()
}

// Close stops the link.
func (l *Link) Close() {
	if l.cancel != nil {
		l.cancel()
		<-l.done
	}
	if l.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		l.srv.Shutdown(ctx)
		cancel()
		l.srv.Close()
	}
	l.tr.CloseIdleConnections()
	l.slowTr.CloseIdleConnections()
}

// handshakeErrors counts the TLS handshake failures net/http logs (a
// client that is not TLS 1.3, a refused fingerprint, a timeout).
type handshakeErrors struct{ l *Link }

func (h handshakeErrors) Write(p []byte) (int, error) {
	s := strings.TrimSpace(string(p))
	if strings.Contains(s, "TLS handshake error") {
		if !strings.Contains(s, errRefused.Error()) { // counted already
			h.l.refuse("tls_handshake", "client", s)
		}
	} else {
		h.l.log.Debug("pair server", "msg", s)
	}
	return len(p), nil
}

// limitListener closes connections beyond its limit at once, so a flood
// neither piles up nor blocks Accept.
type limitListener struct {
	net.Listener
	sem chan struct{}
	l   *Link
}

func (ll *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case ll.sem <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-ll.sem }}, nil
		default:
			c.Close()
			ll.l.refuse("too_many_connections", c.RemoteAddr().String(), fmt.Sprintf("more than %d connections", maxConns))
		}
	}
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// reloadPin re-reads peer.json when it changed (an `lbctl pair join`
// while lbd runs takes effect at the next tick).
func (l *Link) reloadPin() {
	l.pinMu.Lock()
	defer l.pinMu.Unlock()
	fi, err := os.Stat(filepath.Join(l.opts.Dir, peerFile))
	if err != nil {
		if l.pin.Load() != nil && errors.Is(err, os.ErrNotExist) {
			l.pin.Store(nil)
			l.tr.CloseIdleConnections()
			l.log.Warn("pair: peer unpinned (peer.json removed)")
		}
		l.pinMod, l.pinLen = time.Time{}, 0
		return
	}
	if fi.ModTime().Equal(l.pinMod) && fi.Size() == l.pinLen {
		return
	}
	p, err := LoadPin(l.opts.Dir)
	if err != nil {
		l.fail(err)
		return
	}
	l.pinMod, l.pinLen = fi.ModTime(), fi.Size()
	old := l.pin.Swap(p)
	if old != nil && old.Fingerprint != p.Fingerprint {
		l.in.reset()
	}
	if old == nil || old.Fingerprint != p.Fingerprint || old.Address != p.Address {
		if l.tr != nil {
			l.tr.CloseIdleConnections()
		}
		l.log.Info("pair: peer pinned", "fingerprint", p.Fingerprint, "address", p.Address)
	}
}

func (l *Link) peerAddr() string {
	if l.opts.Peer != "" {
		return l.opts.Peer
	}
	if p := l.pin.Load(); p != nil {
		return p.Address
	}
	return ""
}

func (l *Link) loop(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.opts.Interval)
	defer t.Stop()
	for {
		l.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tick sends one presence and evaluates the pair. It never takes longer
// than opts.Timeout (plus the local snapshot).
func (l *Link) tick(ctx context.Context) {
	l.reloadPin()
	local := l.localPresence()
	l.mu.Lock()
	l.local = &local
	l.mu.Unlock()
	if l.pin.Load() != nil {
		cctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
		ans, err := l.call(cctx, pathPresence, &message{Presence: &local}, maxPresenceBody)
		cancel()
		switch {
		case err != nil:
			if ctx.Err() == nil { // not shutting down
				l.fail(err)
			}
		case ans.Presence == nil:
			l.fail(errors.New("peer answered without its presence"))
		default:
			l.gotPresence(ans.Presence)
		}
	}
	l.evalSplit()
	if l.opts.OnTick != nil {
		l.opts.OnTick(l.Status())
	}
}

// localPresence is Local plus the split brains this node has confirmed.
func (l *Link) localPresence() Presence {
	p := l.opts.Local()
	l.mu.Lock()
	p.SplitBrain = nil
	for vrid := range l.split {
		p.SplitBrain = append(p.SplitBrain, vrid)
	}
	l.mu.Unlock()
	sort.Ints(p.SplitBrain)
	return p
}

// call sends msg to the peer and returns its checked answer.
func (l *Link) call(ctx context.Context, path string, msg *message, limit int64) (*message, error) {
	return l.callWith(l.hc, ctx, path, msg, limit)
}

// callWith is call on a given client.
func (l *Link) callWith(hc *http.Client, ctx context.Context, path string, msg *message, limit int64) (*message, error) {
	addr := l.peerAddr()
	if l.pin.Load() == nil || addr == "" {
		return nil, errors.New("not paired: run `lbctl pair join TOKEN`")
	}
	l.stamp(msg)
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, fmt.Errorf("encoding message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", addr, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w", addr, unwrapURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("peer %s: reading answer: %w", addr, err)
	}
	if int64(len(data)) > limit {
		l.refuse("too_large", "server", fmt.Sprintf("answer larger than %d bytes", limit))
		return nil, fmt.Errorf("peer %s: answer larger than %d bytes", addr, limit)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Peer: addr, Code: resp.StatusCode, Msg: fmt.Sprintf("peer %s refused: %s: %s", addr, resp.Status, strings.TrimSpace(string(data[:min(len(data), 512)])))}
	}
	var ans message
	if err := json.Unmarshal(data, &ans); err != nil {
		l.refuse("bad_message", "server", err.Error())
		return nil, fmt.Errorf("peer %s: decoding answer: %w", addr, err)
	}
	if err := l.in.check(ans.Boot, ans.Seq, ans.Sent, l.opts.Now()); err != nil {
		var re *replayError
		if errors.As(err, &re) {
			l.refuse(re.reason, "server", re.msg)
		}
		return nil, fmt.Errorf("peer %s: answer refused: %w", addr, err)
	}
	return &ans, nil
}

func unwrapURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

func (l *Link) stamp(m *message) {
	m.Boot, m.Seq, m.Sent = l.boot, l.seq.Add(1), l.opts.Now()
}

// accept authenticates, bounds, decodes and replay-checks one request.
func (l *Link) accept(w http.ResponseWriter, r *http.Request) (*message, bool) {
	return l.acceptLimit(w, r, maxPresenceBody)
}

// acceptLimit is accept with a body limit.
func (l *Link) acceptLimit(w http.ResponseWriter, r *http.Request, limit int64) (*message, bool) {
	pin := l.pin.Load()
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || pin == nil ||
		subtle.ConstantTimeCompare([]byte(Fingerprint(r.TLS.PeerCertificates[0].Raw)), []byte(pin.Fingerprint)) != 1 {
		// The handshake checked the pin; it may have changed since.
		l.refuse("wrong_fingerprint", r.RemoteAddr, "request on a connection whose peer is no longer pinned")
		http.Error(w, "not the pinned peer", http.StatusForbidden)
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	// Unknown fields are ignored, not refused: a newer peer may send more
	// during a rolling upgrade.
	dec := json.NewDecoder(r.Body)
	var m message
	if err := dec.Decode(&m); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			l.refuse("too_large", r.RemoteAddr, fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return nil, false
		}
		l.refuse("bad_message", r.RemoteAddr, err.Error())
		http.Error(w, "invalid message", http.StatusBadRequest)
		return nil, false
	}
	if err := l.in.check(m.Boot, m.Seq, m.Sent, l.opts.Now()); err != nil {
		reason := "bad_message"
		var re *replayError
		if errors.As(err, &re) {
			reason = re.reason
		}
		l.refuse(reason, r.RemoteAddr, err.Error())
		http.Error(w, "message refused: "+err.Error(), http.StatusConflict)
		return nil, false
	}
	return &m, true
}

func (l *Link) answer(w http.ResponseWriter, m *message) {
	l.stamp(m)
	b, err := json.Marshal(m)
	if err != nil {
		http.Error(w, "encoding answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (l *Link) servePresence(w http.ResponseWriter, r *http.Request) {
	m, ok := l.accept(w, r)
	if !ok {
		return
	}
	if m.Presence == nil {
		l.refuse("bad_message", r.RemoteAddr, "presence message without presence")
		http.Error(w, "no presence", http.StatusBadRequest)
		return
	}
	l.gotPresence(m.Presence)
	local := l.localPresence()
	l.answer(w, &message{Presence: &local})
}

func (l *Link) serveConfig(w http.ResponseWriter, r *http.Request) {
	if _, ok := l.accept(w, r); !ok {
		return
	}
	l.contact()
	if l.opts.ConfigFile == nil {
		http.Error(w, "no config file", http.StatusNotFound)
		return
	}
	cf, err := l.opts.ConfigFile()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	l.answer(w, &message{Config: &cf})
}

// PeerConfig fetches the peer's config file over the link.
func (l *Link) PeerConfig(ctx context.Context) (*ConfigFile, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout+5*time.Second)
	defer cancel()
	ans, err := l.call(ctx, pathConfig, &message{}, maxConfigBody)
	if err != nil {
		return nil, err
	}
	if ans.Config == nil {
		return nil, errors.New("peer answered without its config file")
	}
	return ans.Config, nil
}

// contact records an authenticated message from the peer.
func (l *Link) contact() {
	now := l.opts.Now()
	l.mu.Lock()
	up := !l.lastContact.IsZero() && now.Sub(l.lastContact) <= l.stale()
	if !up {
		l.upSince = now
	}
	l.lastContact, l.firstFail = now, time.Time{}
	l.mu.Unlock()
	if !up {
		l.log.Info("pair link up", "peer", l.peerAddr())
	}
}

// Fingerprints are this node's identity fingerprint and the pinned
// peer's ("" while unpaired).
func (l *Link) Fingerprints() (self, peer string) {
	if p := l.pin.Load(); p != nil {
		peer = p.Fingerprint
	}
	return l.id.Fingerprint, peer
}

// StaleAfter is how long the link stays up without a message from the
// peer.
func (l *Link) StaleAfter() time.Duration { return l.stale() }

func (l *Link) stale() time.Duration { return 2*l.opts.Interval + l.opts.Timeout/2 }

func (l *Link) gotPresence(p *Presence) {
	l.recordPresence(p)
	if l.opts.OnPresence != nil {
		l.opts.OnPresence(p)
	}
}

func (l *Link) recordPresence(p *Presence) {
	l.contact()
	now := l.opts.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.peer = p
	l.peerN++
	if l.local != nil && l.local.ConfigHash != p.ConfigHash {
		if l.differs.IsZero() {
			l.differs = now
		}
	} else {
		l.differs = time.Time{}
	}
}

func (l *Link) fail(err error) {
	now := l.opts.Now()
	l.mu.Lock()
	wasUp := !l.lastContact.IsZero() && l.firstFail.IsZero()
	if l.firstFail.IsZero() {
		l.firstFail = now
	}
	l.lastErr, l.lastErrAt = err.Error(), now
	logIt := now.Sub(l.lastLog["error"]) >= logEvery || wasUp
	if logIt {
		l.lastLog["error"] = now
	}
	l.mu.Unlock()
	if logIt {
		l.log.Warn("pair link: peer unreachable", "peer", l.peerAddr(), "error", err)
	}
}

// Status returns a snapshot; it never waits for the peer.
func (l *Link) Status() control.PairStatus {
	now := l.opts.Now()
	pin := l.pin.Load()
	l.mu.Lock()
	defer l.mu.Unlock()
	st := control.PairStatus{
		Listen:      l.Addr(),
		Fingerprint: l.id.Fingerprint,
		Peer:        l.peerAddr(),
		LastContact: l.lastContact,
		LastError:   l.lastErr,
		LastErrorAt: l.lastErrAt,
		PeerVRRP:    []control.PairVRRP{},
		PeerServers: []control.PairServer{},
		SplitBrain:  []control.SplitBrain{},
		Refused:     map[string]uint64{},
	}
	for k, v := range l.refused {
		st.Refused[k] = v
	}
	if pin != nil {
		st.PeerFingerprint = pin.Fingerprint
	}
	up := !l.lastContact.IsZero() && now.Sub(l.lastContact) <= l.stale()
	switch {
	case pin == nil:
		st.Link = "unpaired"
	case up:
		st.Link, st.UpSince = "up", l.upSince
	default:
		st.Link = "down"
		switch {
		case !l.firstFail.IsZero():
			st.UnreachableSince = l.firstFail
		case !l.lastContact.IsZero():
			st.UnreachableSince = l.lastContact
		default:
			st.UnreachableSince = l.started
		}
	}
	if l.local != nil {
		st.ConfigHash = l.local.ConfigHash
	}
	if p := l.peer; p != nil {
		st.PeerNode, st.PeerVersion, st.PeerStartedAt, st.PeerUptimeSec = p.Node, p.Version, p.StartedAt, p.UptimeSec
		st.PeerVRRP = append(st.PeerVRRP, p.VRRP...)
		st.PeerServers = append(st.PeerServers, p.Servers...)
		st.PeerConfigHash = p.ConfigHash
		st.ConfigInSync = l.differs.IsZero() && st.ConfigHash == p.ConfigHash
		st.DiffersSince = l.differs
		if l.local != nil {
			st.VersionSkew = p.Version != l.local.Version
		}
	}
	for _, sb := range l.split {
		st.SplitBrain = append(st.SplitBrain, *sb)
	}
	sort.Slice(st.SplitBrain, func(i, j int) bool { return st.SplitBrain[i].VRID < st.SplitBrain[j].VRID })
	st.SplitBrainTotal = l.splitTotal
	return st
}

func (l *Link) serveACME(w http.ResponseWriter, r *http.Request) {
	m, ok := l.accept(w, r)
	if !ok {
		return
	}
	l.contact()
	if l.opts.ACME == nil {
		http.Error(w, "acme is not configured on this node", http.StatusNotFound)
		return
	}
	ans, err := l.opts.ACME(m.ACME)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	l.answer(w, &message{ACME: ans})
}

// ACME sends an acme store message to the peer and returns its answer.
func (l *Link) ACME(ctx context.Context, req json.RawMessage) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout+5*time.Second)
	defer cancel()
	ans, err := l.call(ctx, pathACME, &message{ACME: req}, maxConfigBody)
	if err != nil {
		return nil, err
	}
	return ans.ACME, nil
}
