package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lbd-ha/lbd/acme"
	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/proxy"
)

// acmeChallengeBackend is the internal backend every HTTP frontend routes
// /.well-known/acme-challenge/ to when tls.acme is set: a loopback server
// in this process that answers from the replicated store (docs/tls.md).
const (
	acmeChallengeBackend = config.ACMEChallengeBackend
	acmeChallengeACL     = "lbd_acme_challenge"
)

// acmeState is the daemon's ACME: the store, the manager, the challenge
// server and the resync loop.
type acmeState struct {
	mu     sync.Mutex
	cfg    *config.ACME
	store  *acme.Store
	mgr    *acme.Manager
	cancel context.CancelFunc
	err    string

	chOnce sync.Once
	chAddr string // the challenge server, 127.0.0.1:PORT
	chErr  error

	reloadMu  sync.Mutex
	reloadDue bool
}

// ACMEDirs are the store and the certificate directory under state_dir.
func ACMEDirs(stateDir string) (store, certs string) {
	return filepath.Join(stateDir, "acme", "store"), config.ACMECertDir(stateDir)
}

// ensureACMECertDir makes the ACME certificate directory (and acme/) mode
// 0700, owned like the state directory, when it is missing.
func ensureACMECertDir(stateDir, dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("acme certificate directory: %w", err)
	}
	os.Chmod(dir, 0o700)
	if own := ownerOf(stateDir); own != nil {
		own(filepath.Dir(dir))
		own(dir)
	}
	return nil
}

// startACME (re)starts ACME when the tls.acme section changed. A failure
// is logged and shown in `lbctl acme status`; lbd serves on.
func (d *Daemon) startACME(cfg *config.Config) {
	var want *config.ACME
	if cfg.TLS != nil {
		want = cfg.TLS.ACME
	}
	a := &d.acme
	a.mu.Lock()
	if reflect.DeepEqual(a.cfg, want) && (a.mgr != nil || want == nil) {
		a.mu.Unlock()
		return
	}
	d.stopACMELocked()
	a.cfg, a.err = want, ""
	a.mu.Unlock()
	if want == nil {
		return
	}
	err := d.runACME(want)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.err = err.Error()
		d.log.Error("acme not started: certificates are neither obtained nor renewed", "error", err)
	}
}

func (d *Daemon) runACME(c *config.ACME) error {
	storeDir, certDir := ACMEDirs(c.StateDir)
	var peer acme.Replicator
	if d.Config().Pair != nil {
		peer = linkReplicator{d}
	}
	owner := ownerOf(c.StateDir)
	store, err := acme.NewStore(acme.StoreOptions{
		Dir: storeDir, CertDir: certDir, Node: d.acmeNode(), LockTTL: c.LockTTL,
		Peer: peer, IsMaster: d.vrrpMaster, OnCertificate: d.acmeCertificate, Owner: owner, Logger: d.log,
	})
	if err != nil {
		return err
	}
	var roots *x509.CertPool
	if c.CA != "" {
		pemData, err := os.ReadFile(c.CA)
		if err != nil {
			return fmt.Errorf("tls.acme.ca: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemData) {
			return fmt.Errorf("tls.acme.ca: %s holds no PEM certificate", c.CA)
		}
	}
	opts := acme.Options{Store: store, Directory: c.Directory, Email: c.Email, Roots: roots,
		KeyType: c.KeyType, Certificates: c.Certificates, HTTPPort: acmeHTTPPort(d.Config()), Logger: d.log}
	opts.NoHTTP01 = !c.HasChallenge("http-01")
	opts.TLSALPN01 = c.HasChallenge("tls-alpn-01")
	opts.TLSALPNPort = acmeTLSALPNPort(d.Config())
	if c.EAB != nil {
		opts.EABKeyID, opts.EABHMAC = c.EAB.KeyID, c.EAB.HMACKey
	}
	mgr, err := acme.New(opts)
	if err != nil {
		return err
	}
	store.ExportAll()
	ctx, cancel := context.WithCancel(context.Background())
	d.acme.mu.Lock()
	d.acme.store, d.acme.mgr, d.acme.cancel = store, mgr, cancel
	d.acme.mu.Unlock()
	go func() {
		if peer != nil {
			// The first orders are coordinated when the link is up: wait
			// for it a little (both nodes usually start together).
			d.waitPairUp(ctx, acmeStartGrace)
			go d.acmeResync(ctx, store)
		}
		if err := mgr.Start(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("acme: managing certificates", "error", err)
			d.acme.mu.Lock()
			d.acme.err = err.Error()
			d.acme.mu.Unlock()
		}
	}()
	d.log.Info("acme started", "directory", c.Directory, "certificates", len(c.Certificates), "dir", certDir)
	return nil
}

func (d *Daemon) stopACME() {
	d.acme.mu.Lock()
	defer d.acme.mu.Unlock()
	d.stopACMELocked()
}

func (d *Daemon) stopACMELocked() {
	a := &d.acme
	if a.cancel != nil {
		a.cancel()
	}
	if a.mgr != nil {
		a.mgr.Stop()
	}
	a.store, a.mgr, a.cancel = nil, nil, nil
}

// acmeResync sends the peer what it missed: when the link comes up, and
// while a write has not reached it.
func (d *Daemon) acmeResync(ctx context.Context, store *acme.Store) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	wasUp := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := d.pairStatus()
		up := st != nil && st.Link == "up"
		if up && (!wasUp || store.Dirty()) {
			if _, err := store.Sync(ctx); err != nil {
				d.log.Warn("acme: resync with the peer failed; retried", "error", err)
				up = false
			}
		}
		wasUp = up
	}
}

// acmeStartGrace is how long ACME waits at start for the pair link.
const acmeStartGrace = 10 * time.Second

// waitPairUp waits, at most max, for the pair link to be up and, with
// VRRP, for a master on either node: an order placed before the VIP is
// anywhere fails its validation and certmagic retries only a minute later.
func (d *Daemon) waitPairUp(ctx context.Context, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		if st := d.pairStatus(); st != nil && st.Link == "up" && d.someMaster(st) {
			return
		}
		if sleepCtx(ctx, 100*time.Millisecond) != nil {
			return
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// acmeNode names this node in the pair's leases: its pair identity.
func (d *Daemon) acmeNode() string {
	d.pair.mu.Lock()
	l := d.pair.link
	d.pair.mu.Unlock()
	if l != nil {
		return l.Identity().Fingerprint[:16]
	}
	h, _ := os.Hostname()
	return firstNonEmpty(h, "lbd")
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// someMaster: no VRRP here, or an instance is MASTER on this node or on
// the peer.
func (d *Daemon) someMaster(st *control.PairStatus) bool {
	rt := d.runtime()
	if rt == nil || len(rt.nodes) == 0 {
		return true
	}
	for _, vn := range rt.nodes {
		if vn.node.Status().State == "MASTER" {
			return true
		}
	}
	for _, v := range st.PeerVRRP {
		if v.State == "MASTER" {
			return true
		}
	}
	return false
}

// vrrpMaster: some VRRP instance is MASTER here, or there is no VRRP.
func (d *Daemon) vrrpMaster() bool {
	rt := d.runtime()
	if rt == nil || len(rt.nodes) == 0 {
		return true
	}
	for _, vn := range rt.nodes {
		if vn.node.Status().State == "MASTER" {
			return true
		}
	}
	return false
}

// acmeCertificate is called when a certificate file was written: lbd
// reloads (which re-reads certificates), once for a burst of files.
func (d *Daemon) acmeCertificate(name string) {
	a := &d.acme
	a.reloadMu.Lock()
	due := a.reloadDue
	a.reloadDue = true
	a.reloadMu.Unlock()
	if due {
		return
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		a.reloadMu.Lock()
		a.reloadDue = false
		a.reloadMu.Unlock()
		d.mu.Lock()
		running := d.rt != nil
		d.mu.Unlock()
		if running {
			d.Reload(context.Background(), "acme: new certificate "+name)
		}
	}()
}

// ownerOf returns a chown to the owner of dir (lbd's user when packaged)
// for files lbd creates as root; nil otherwise.
func ownerOf(dir string) func(string) {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	return func(p string) { os.Lchown(p, int(st.Uid), int(st.Gid)) }
}

// acmeHTTPPort is the port certmagic's own HTTP-01 server would try when
// no frontend listens there: 80.
func acmeHTTPPort(*config.Config) int { return 80 }

// acmeTLSALPNPort is the port certmagic's own TLS-ALPN-01 server would
// try when nothing listens there: the first TLS bind's (where lbd answers,
// so certmagic finds it taken and leaves it to lbd), else 443.
func acmeTLSALPNPort(cfg *config.Config) int {
	if cfg != nil {
		for _, f := range cfg.Frontends {
			for _, b := range f.Bind {
				if b.SSL == nil {
					continue
				}
				if i := strings.LastIndexByte(b.Address, ':'); i >= 0 {
					if p, err := strconv.Atoi(b.Address[i+1:]); err == nil && p > 0 && p < 65536 {
						return p
					}
				}
			}
		}
	}
	return 443
}

// acmeTLSALPN is the hook the TLS binds answer TLS-ALPN-01 with when
// cfg's tls.acme enables it (nil otherwise): the running ACME manager's
// challenge certificate, looked up at each validation handshake.
func (d *Daemon) acmeTLSALPN(cfg *config.Config) func(*tls.ClientHelloInfo) (*tls.Certificate, bool) {
	if cfg.TLS == nil || !cfg.TLS.ACME.HasChallenge("tls-alpn-01") {
		return nil
	}
	return func(h *tls.ClientHelloInfo) (*tls.Certificate, bool) {
		d.acme.mu.Lock()
		mgr := d.acme.mgr
		d.acme.mu.Unlock()
		if mgr == nil {
			return nil, false
		}
		return mgr.TLSALPNCert(h)
	}
}

// ACMEStatus implements control.ACMEBackend.
func (d *Daemon) ACMEStatus() (*control.ACMEStatus, error) {
	a := &d.acme
	a.mu.Lock()
	cfg, mgr, store, errText := a.cfg, a.mgr, a.store, a.err
	a.mu.Unlock()
	if cfg == nil {
		return nil, errors.New("no tls.acme section in the config: see docs/tls.md")
	}
	st := &control.ACMEStatus{Node: d.acmeNode(), Directory: cfg.Directory, Certificates: []control.ACMECert{}}
	if mgr == nil {
		for _, g := range cfg.Certificates {
			for _, n := range g {
				st.Certificates = append(st.Certificates, control.ACMECert{Name: n, State: "failing", LastError: errText})
			}
		}
		return st, nil
	}
	st.PeerBehind = store.Dirty()
	for _, c := range mgr.Status() {
		st.Certificates = append(st.Certificates, control.ACMECert{Name: c.Name, State: c.State, File: c.File, NotAfter: c.NotAfter,
			Issuer: c.Issuer, Fingerprint: c.Fingerprint, FailingSince: c.FailingSince, LastError: c.LastError,
			LastErrorAt: c.LastErrorAt, LockHolder: c.LockHolder})
	}
	return st, nil
}

// acmeAnnotate adds the tls.acme state to the certificates that tls.acme
// manages (matched by file), for `lbctl cert list`.
func (d *Daemon) acmeAnnotate(cs []control.CertStatus) []control.CertStatus {
	d.acme.mu.Lock()
	mgr := d.acme.mgr
	d.acme.mu.Unlock()
	if mgr == nil || len(cs) == 0 {
		return cs
	}
	byFile := map[string]acme.Status{}
	for _, st := range mgr.Status() {
		if st.File != "" {
			byFile[filepath.Clean(st.File)] = st
		}
	}
	for i := range cs {
		if st, ok := byFile[filepath.Clean(cs[i].File)]; ok {
			cs[i].ACME, cs[i].ACMEFailingSince = st.State, st.FailingSince
			if st.State == "failing" {
				cs[i].ACMELastError = st.LastError
			}
		}
	}
	return cs
}

// ACMERenew implements control.ACMEBackend.
func (d *Daemon) ACMERenew(ctx context.Context, name, who string) error {
	d.acme.mu.Lock()
	mgr := d.acme.mgr
	d.acme.mu.Unlock()
	if mgr == nil {
		return errors.New("acme is not running: see `lbctl acme status`")
	}
	d.log.Info("acme: renewal forced", "name", name, "by", who)
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	return mgr.Renew(ctx, name)
}

// acmeRoute adds the challenge route to every HTTP frontend: an ACL on
// the challenge path and a use_backend to the loopback challenge server,
// ahead of the frontend's own rules. No proxy code is involved.
func (d *Daemon) acmeRoute(pc *proxy.Config, cfg *config.Config) error {
	if cfg.TLS == nil || cfg.TLS.ACME == nil {
		return nil
	}
	a := &d.acme
	a.chOnce.Do(func() { a.chAddr, a.chErr = d.startChallengeServer() })
	if a.chErr != nil {
		return fmt.Errorf("acme challenge server: %w", a.chErr)
	}
	added := false
	for i := range pc.Frontends {
		f := &pc.Frontends[i]
		if f.Mode != proxy.ModeHTTP {
			continue
		}
		f.ACLs = append([]proxy.ACL{{Name: acmeChallengeACL, Criterion: "path_beg", Values: []string{acme.ChallengePath}}}, f.ACLs...)
		f.UseBackends = append([]proxy.UseBackend{{Backend: acmeChallengeBackend, If: acmeChallengeACL}}, f.UseBackends...)
		added = true
	}
	if added {
		pc.Backends = append(pc.Backends, proxy.Backend{Name: acmeChallengeBackend, Mode: proxy.ModeHTTP, Balance: proxy.BalanceRoundRobin,
			ConnectTimeout: time.Second, ServerTimeout: 5 * time.Second, HTTPServerClose: true,
			Servers: []proxy.Server{{Name: "lbd", Address: a.chAddr, Weight: 1}}})
	}
	return nil
}

// startChallengeServer answers HTTP-01 on loopback from the current store.
func (d *Daemon) startChallengeServer() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := strings.CutPrefix(r.URL.Path, acme.ChallengePath)
			d.acme.mu.Lock()
			store := d.acme.store
			d.acme.mu.Unlock()
			if !ok || store == nil || r.Method != http.MethodGet {
				http.NotFound(w, r)
				return
			}
			keyAuth, ok := store.HTTPChallenge(r.Host, token)
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(keyAuth))
		})}
	go srv.Serve(ln)
	return ln.Addr().String(), nil
}

// linkReplicator carries the acme store's messages over the pair link.
type linkReplicator struct{ d *Daemon }

type acmeMsg struct {
	Op       string             `json:"op"` // put, lease, manifest
	Key      string             `json:"key,omitempty"`
	Value    []byte             `json:"value,omitempty"`
	Modified time.Time          `json:"modified,omitzero"`
	Delete   bool               `json:"delete,omitempty"`
	Lease    *acme.LeaseRequest `json:"lease,omitempty"`
}

type acmeAnswer struct {
	Lease    *acme.LeaseAnswer        `json:"lease,omitempty"`
	Manifest map[string]acme.KeyState `json:"manifest,omitempty"`
}

func (r linkReplicator) send(ctx context.Context, m acmeMsg) (*acmeAnswer, error) {
	r.d.pair.mu.Lock()
	l := r.d.pair.link
	r.d.pair.mu.Unlock()
	if l == nil {
		return nil, errors.New("the pair link is not running")
	}
	req, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	raw, err := l.ACME(ctx, req)
	if err != nil {
		return nil, err
	}
	var ans acmeAnswer
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &ans); err != nil {
			return nil, fmt.Errorf("decoding the peer's acme answer: %w", err)
		}
	}
	return &ans, nil
}

func (r linkReplicator) Put(ctx context.Context, key string, value []byte, mod time.Time, del bool) error {
	_, err := r.send(ctx, acmeMsg{Op: "put", Key: key, Value: value, Modified: mod, Delete: del})
	return err
}

func (r linkReplicator) Lease(ctx context.Context, req acme.LeaseRequest) (acme.LeaseAnswer, error) {
	ans, err := r.send(ctx, acmeMsg{Op: "lease", Lease: &req})
	if err != nil {
		return acme.LeaseAnswer{}, err
	}
	if ans.Lease == nil {
		return acme.LeaseAnswer{}, errors.New("the peer answered without a lease")
	}
	return *ans.Lease, nil
}

func (r linkReplicator) Manifest(ctx context.Context) (map[string]acme.KeyState, error) {
	ans, err := r.send(ctx, acmeMsg{Op: "manifest"})
	if err != nil {
		return nil, err
	}
	return ans.Manifest, nil
}

// acmePeerMessage answers the peer's acme message (pair link route).
func (d *Daemon) acmePeerMessage(raw json.RawMessage) (json.RawMessage, error) {
	d.acme.mu.Lock()
	store := d.acme.store
	d.acme.mu.Unlock()
	if store == nil {
		return nil, errors.New("acme is not running on this node")
	}
	var m acmeMsg
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("invalid acme message: %w", err)
	}
	var ans acmeAnswer
	switch m.Op {
	case "put":
		if err := store.ApplyPut(m.Key, m.Value, m.Modified, m.Delete); err != nil {
			return nil, err
		}
	case "lease":
		if m.Lease == nil {
			return nil, errors.New("lease message without a lease")
		}
		la := store.ApplyLease(*m.Lease)
		ans.Lease = &la
	case "manifest":
		mf, err := store.Manifest()
		if err != nil {
			return nil, err
		}
		ans.Manifest = mf
	default:
		return nil, fmt.Errorf("unknown acme op %q", m.Op)
	}
	return json.Marshal(ans)
}
