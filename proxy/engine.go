package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lbd-ha/lbd/checks"
)

// Options are the engine's collaborators.
type Options struct {
	// Logger receives engine events (listener errors, reloads); nil discards.
	Logger *slog.Logger
	// AccessLog receives one record per HTTP request or TCP session. It is
	// called synchronously on the connection's goroutine and must be cheap;
	// the record is reused after the call returns, so copy it (the struct
	// value) if it is kept.
	AccessLog func(*LogRecord)
	// StatsHandler renders the statistics page for frontends with Stats set
	// (matched on the stats URI prefix, after the proxy checked the
	// credentials); nil answers 503 there.
	StatsHandler http.Handler
	// Inherited returns the listening socket a previous lbd process handed
	// over for a bind key ("tcp4|10.0.0.1:80"), or nil to bind a new one
	// (binary upgrade). Nil: always bind.
	Inherited func(key string) (*net.TCPListener, error)
}

// Engine is the proxy: listeners, routing, balancing and forwarding.
type Engine struct {
	opts Options
	log  *slog.Logger
	gen  atomic.Pointer[generation]
	reg  *registry

	mu        sync.Mutex // lifecycle: Start, Reload, Shutdown
	listeners map[string]*listener
	paused    map[string]bool // frontends paused at runtime (pause.go)
	started   bool
	stopping  atomic.Bool
	gate      atomic.Pointer[gate]
	actConn   atomic.Int64
	// idleParks counts idle keep-alive connections parked (see
	// clientConn.serve): in the idle poller, or on a fresh goroutine.
	idleParks atomic.Uint64
	// idle holds parked idle connections without a goroutine (idlepoll.go).
	idle idlePoller
	// trims counts the memory trims after bursts (trim.go).
	trims trimStats

	connMu   sync.Mutex
	conns    map[tracked]struct{}
	connWG   sync.WaitGroup
	acceptWG sync.WaitGroup
	stopReap chan struct{}
	bgWG     sync.WaitGroup // the reaper and the trimmer
	statMu   sync.Mutex
}

// tracked is a live client connection, known for Shutdown's hard stop.
type tracked interface {
	forceClose()
}

type gate struct{ ch chan struct{} }

// newGate makes the process-wide connection slots; nil channel: no limit.
func newGate(maxconn int) *gate {
	if maxconn <= 0 {
		return &gate{}
	}
	return &gate{ch: make(chan struct{}, maxconn)}
}

type listener struct {
	key  string
	ln   *net.TCPListener
	fe   atomic.Pointer[frontend]
	done chan struct{}
	once sync.Once
}

func (l *listener) close() {
	l.once.Do(func() {
		close(l.done)
		l.ln.Close()
	})
}

// New compiles cfg and prepares an engine; nothing is bound until Start.
func New(cfg *Config, opts Options) (*Engine, error) {
	e := &Engine{opts: opts, log: opts.Logger, reg: newRegistry(), listeners: map[string]*listener{}, paused: map[string]bool{}, conns: map[tracked]struct{}{}}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	g, next, err := compile(cfg, e.reg)
	if err != nil {
		return nil, fmt.Errorf("proxy config: %w", err)
	}
	e.commit(g, next)
	e.gate.Store(newGate(g.maxconn))
	return e, nil
}

func (e *Engine) commit(g *generation, next *registry) {
	e.reg.mu.Lock()
	old := e.reg.servers
	e.reg.servers, e.reg.backends, e.reg.frontends, e.reg.tables = next.servers, next.backends, next.frontends, next.tables
	e.reg.mu.Unlock()
	for k, sh := range old {
		if next.servers[k] != sh {
			sh.pool.retire()
		}
	}
	e.gen.Store(g)
}

// Start binds every listener and starts serving. It returns once all are
// bound; an error closes those already opened.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return errors.New("proxy already started")
	}
	g := e.gen.Load()
	opened, err := e.openListeners(ctx, g, nil)
	if err != nil {
		return err
	}
	e.started = true
	e.stopReap = make(chan struct{})
	stop := e.stopReap
	e.bgWG.Add(2)
	go func() { defer e.bgWG.Done(); e.reaper(stop) }()
	go func() { defer e.bgWG.Done(); e.trimmer(stop) }()
	e.startListeners(opened)
	return nil
}

// startListeners records opened listeners and starts their accept loops.
// Call with e.mu held.
func (e *Engine) startListeners(opened []*listener) {
	for _, l := range opened {
		e.listeners[l.key] = l
		e.acceptWG.Add(1)
		go e.acceptLoop(l)
	}
}

// openListeners binds the listeners of g not in have.
func (e *Engine) openListeners(ctx context.Context, g *generation, have map[string]*listener) ([]*listener, error) {
	var opened []*listener
	for _, f := range g.frontends {
		if e.paused[f.name] {
			continue
		}
		for _, key := range f.binds {
			if have[key] != nil {
				continue
			}
			ln, err := e.listen(ctx, key)
			if err != nil {
				for _, l := range opened {
					l.ln.Close()
				}
				return nil, fmt.Errorf("frontend %s: bind %s: %w", f.name, bindDisplay(key), err)
			}
			l := &listener{key: key, ln: ln, done: make(chan struct{})}
			l.fe.Store(f)
			opened = append(opened, l)
		}
	}
	return opened, nil
}

// listen takes key's socket from a previous process, or binds it.
func (e *Engine) listen(ctx context.Context, key string) (*net.TCPListener, error) {
	if e.opts.Inherited != nil {
		ln, err := e.opts.Inherited(key)
		if err != nil || ln != nil {
			return ln, err
		}
	}
	return listenTCP(ctx, key)
}

// Listeners returns the listening sockets open now, by bind key, for a
// binary upgrade to hand over.
func (e *Engine) Listeners() map[string]syscall.Conn {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := make(map[string]syscall.Conn, len(e.listeners))
	for k, l := range e.listeners {
		m[k] = l.ln
	}
	return m
}

func (e *Engine) reaper(stop chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			var dead []conn
			e.reg.mu.Lock()
			for _, sh := range e.reg.servers {
				dead = sh.pool.expire(now, dead)
			}
			e.reg.mu.Unlock()
			for _, c := range dead { // outside the locks
				c.Close()
			}
		}
	}
}

func acquire(ch chan struct{}, done chan struct{}) bool {
	if ch == nil {
		return true
	}
	select {
	case ch <- struct{}{}:
		return true
	default:
	}
	select {
	case ch <- struct{}{}:
		return true
	case <-done:
		return false
	}
}

func releaseSem(ch chan struct{}) {
	if ch != nil {
		<-ch
	}
}

// acceptFailures paces an accept loop whose accept fails (EMFILE,
// ENFILE, ENOBUFS: the error persists until descriptors or memory free
// up): the wait before the next try doubles from 5 ms up to 1 s, and the
// log gets one line a second with the number of failures since the last.
type acceptFailures struct {
	wait   time.Duration // the last wait; 0 after a successful accept
	logged time.Time     // the last line
	n      int           // failures since it
}

const (
	acceptWaitMin = 5 * time.Millisecond
	acceptWaitMax = time.Second
)

// failed records a failure at now and returns the wait before the next
// try and, when a line is due, the failures it reports (0: no line).
func (f *acceptFailures) failed(now time.Time) (time.Duration, int) {
	f.wait = min(max(2*f.wait, acceptWaitMin), acceptWaitMax)
	f.n++
	if !f.logged.IsZero() && now.Sub(f.logged) < time.Second {
		return f.wait, 0
	}
	n := f.n
	f.logged, f.n = now, 0
	return f.wait, n
}

// acceptLoop accepts while the global and frontend maxconn allow; beyond
// them connections wait in the kernel backlog.
func (e *Engine) acceptLoop(l *listener) {
	defer e.acceptWG.Done()
	var fail acceptFailures
	for {
		fe := l.fe.Load()
		gt := e.gate.Load()
		if !acquire(gt.ch, l.done) {
			return
		}
		if !acquire(fe.sem, l.done) {
			releaseSem(gt.ch)
			return
		}
		c, err := l.ln.AcceptTCP()
		if err != nil {
			releaseSem(fe.sem)
			releaseSem(gt.ch)
			select {
			case <-l.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			wait, n := fail.failed(time.Now())
			if n > 0 {
				e.log.Warn("accept failed", "frontend", fe.name, "bind", bindDisplay(l.key), "err", err, "failures", n, "retry_in", wait)
			}
			t := time.NewTimer(wait)
			select {
			case <-l.done:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		fail.wait = 0
		if cur := l.fe.Load(); cur != fe && cur != retired && acquire(cur.sem, l.done) {
			// Reloaded while waiting in Accept: serve with the new
			// configuration and its connection limit. (When the
			// listener closed meanwhile, the connection is served on
			// the one it was accepted under: see softstop.go.)
			releaseSem(fe.sem)
			fe = cur
		}
		e.connWG.Add(1)
		go e.serveConn(c, fe, gt, &l.fe, l.key)
	}
}

func (e *Engine) track(t tracked) {
	e.connMu.Lock()
	e.conns[t] = struct{}{}
	e.connMu.Unlock()
}

func (e *Engine) untrack(t tracked) {
	e.connMu.Lock()
	delete(e.conns, t)
	e.connMu.Unlock()
}

// softStopper is a tracked connection that must be told of a soft stop
// (softstop.go) because it cannot answer its next request with
// Connection: close: an HTTP/2 connection, which sends GOAWAY.
type softStopper interface{ softStop() }

// softStopConns tells every soft stopper that the engine stops or that a
// listener's frontend changed (reload, runtime pause); each checks whether
// it concerns it.
func (e *Engine) softStopConns() {
	e.connMu.Lock()
	for t := range e.conns {
		if s, ok := t.(softStopper); ok {
			s.softStop()
		}
	}
	e.connMu.Unlock()
}

func (e *Engine) serveConn(c *net.TCPConn, fe *frontend, gt *gate, cur *atomic.Pointer[frontend], key string) {
	e.actConn.Add(1)
	fe.st.inc()
	fe.st.total.Add(1)
	// tcp-request connection rules (rules.go) run at accept, on the
	// peer's address: as in HAProxy, they come before the PROXY header is
	// read (reject a connection not from a trusted sender before reading
	// anything); later rules see the header's address.
	var ct *connTrack
	if len(fe.tcpConn) > 0 {
		var ok bool
		if ct, ok = tcpRules(fe.tcpConn, remoteAddr(c), nil); !ok {
			fe.st.deniedConn.Add(1)
			c.SetLinger(0)
			c.Close()
			e.connDone(fe, gt)
			return
		}
	}
	src, dst, ok := e.clientAddr(c, fe) // the PROXY header's, if any (proxyproto.go)
	if !ok {
		ct.release(0, 0)
		e.connDone(fe, gt)
		return
	}
	if fe.mode == ModeTCP {
		defer e.connDone(fe, gt)
		defer ct.release(0, 0)
		e.serveTCP(c, fe, src, dst, ct)
		return
	}
	if fe.tls != nil {
		if cfg := fe.tls[key]; cfg != nil {
			e.serveTLS(c, fe, gt, cur, cfg, src, dst, ct)
			return
		}
	}
	if fe.h2c {
		e.serveH2c(c, fe, gt, cur, src, dst, ct)
		return
	}
	// An idle HTTP connection may move to another goroutine (idle park):
	// serveHTTP calls connDone on the one that ends it.
	e.serveHTTP(c, fe, gt, cur, src, dst, ct)
}

// connDone undoes serveConn's accounting when a connection has ended.
func (e *Engine) connDone(fe *frontend, gt *gate) {
	fe.st.cur.Add(-1)
	e.actConn.Add(-1)
	releaseSem(fe.sem)
	releaseSem(gt.ch)
	e.connWG.Done()
}

// Shutdown is a soft stop (softstop.go): it stops accepting, lets every
// connection it has finish (an HTTP one answers its next request with
// Connection: close, an idle one closes when its keep-alive wait ends, a
// TCP session runs until it ends) and waits for them until ctx ends, the
// hard-stop bound; then it closes what remains.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopping.Store(true)
	for k, l := range e.listeners {
		l.retire()
		delete(e.listeners, k)
	}
	e.softStopConns()
	e.acceptWG.Wait()
	done := make(chan struct{})
	go func() { e.connWG.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		e.connMu.Lock()
		for t := range e.conns {
			t.forceClose()
		}
		e.connMu.Unlock()
		<-done
		err = ctx.Err()
	}
	e.idle.stop() // every connection has ended
	if e.stopReap != nil {
		close(e.stopReap)
		e.stopReap = nil
		e.bgWG.Wait() // a trim in progress ends first
	}
	e.reg.mu.Lock()
	for _, sh := range e.reg.servers {
		sh.pool.retire()
	}
	e.reg.mu.Unlock()
	return err
}

// Reload compiles cfg and, if valid, swaps routing and backends
// atomically. Listeners whose address remains are kept, new ones opened,
// removed ones closed. Connections already accepted finish on the
// configuration they started with. Servers kept (same backend and server
// name) keep their state and counters. On error nothing changes.
func (e *Engine) Reload(cfg *Config) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	g, next, err := compile(cfg, e.reg)
	if err != nil {
		return fmt.Errorf("proxy config: %w", err)
	}
	if !e.started || e.stopping.Load() {
		e.commit(g, next)
		e.gate.Store(newGate(g.maxconn))
		return nil
	}
	opened, err := e.openListeners(context.Background(), g, e.listeners)
	if err != nil {
		return err
	}
	if old := e.gen.Load(); old.maxconn != g.maxconn {
		e.gate.Store(newGate(g.maxconn))
	}
	e.commit(g, next)
	want := map[string]*frontend{}
	live := map[string]bool{}
	for _, f := range g.frontends {
		live[f.name] = true
		if e.paused[f.name] {
			continue
		}
		for _, k := range f.binds {
			want[k] = f
		}
	}
	for k, l := range e.listeners {
		if f, ok := want[k]; ok {
			l.fe.Store(f)
		} else {
			l.retire()
			delete(e.listeners, k)
		}
	}
	for name := range e.paused {
		if !live[name] {
			delete(e.paused, name)
		}
	}
	e.softStopConns()
	e.startListeners(opened)
	e.log.Info("proxy configuration reloaded", "frontends", len(g.frontends), "backends", len(g.backends), "listeners", len(e.listeners))
	return nil
}

// NameError reports a backend or server name the running configuration
// does not have; its message lists the valid names.
type NameError struct{ msg string }

func (e *NameError) Error() string { return e.msg }

func (e *Engine) findServer(backend, srv string) (*backend, *server, error) {
	g := e.gen.Load()
	b, ok := g.backends[backend]
	if !ok {
		return nil, nil, &NameError{fmt.Sprintf("unknown backend %q (known: %s)", backend, strings.Join(sortedKeys(g.backends), ", "))}
	}
	for _, s := range b.servers {
		if s.name == srv {
			return b, s, nil
		}
	}
	names := make([]string, len(b.servers))
	for i, s := range b.servers {
		names[i] = s.name
	}
	return nil, nil, &NameError{fmt.Sprintf("unknown server %q in backend %s (known: %s)", srv, backend, strings.Join(names, ", "))}
}

// ServerState returns a server's health and admin state as last set.
func (e *Engine) ServerState(backend, server string) (ServerState, error) {
	_, s, err := e.findServer(backend, server)
	if err != nil {
		return ServerState{}, err
	}
	return ServerState{Up: s.sh.up.Load(), Admin: checks.Admin(s.sh.admin.Load())}, nil
}

// SetServerState sets a server's health and admin state (the health
// checker sets Up; operators set Admin through it).
func (e *Engine) SetServerState(backend, server string, st ServerState) error {
	if st.Admin > checks.Maint {
		return fmt.Errorf("invalid admin state %d", st.Admin)
	}
	b, s, err := e.findServer(backend, server)
	if err != nil {
		return err
	}
	sh := s.sh
	sh.up.Store(st.Up)
	sh.admin.Store(int32(st.Admin))
	if isDown := !st.Up || st.Admin == checks.Maint; isDown {
		sh.pool.closeAll()
		if b.redispatch || st.Admin == checks.Maint {
			b.mu.Lock()
			for _, w := range s.queue {
				w.srv = nil
				b.queue = append(b.queue, w)
				s.sh.st.queueCur.Add(-1)
				b.st.queueCur.Add(1)
			}
			s.queue = nil
			b.mu.Unlock()
		}
	}
	b.wake()
	return nil
}

// SetServerWeight sets a server's runtime weight (0..256; 0 = no
// load-balanced traffic).
func (e *Engine) SetServerWeight(backend, server string, w int) error {
	if w < 0 || w > 256 {
		return fmt.Errorf("weight %d out of range 0..256", w)
	}
	b, s, err := e.findServer(backend, server)
	if err != nil {
		return err
	}
	s.sh.weight.Store(int32(w))
	b.wake()
	return nil
}

// BackendUsable reports whether some server of the backend can take
// load-balanced traffic.
func (e *Engine) BackendUsable(name string) bool {
	b, ok := e.gen.Load().backends[name]
	if !ok {
		return false
	}
	return anyLB(b.servers)
}

// FrontendServing reports whether the frontend exists and all its
// listeners are open.
func (e *Engine) FrontendServing(name string) bool {
	if e.stopping.Load() {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started {
		return false
	}
	for _, f := range e.gen.Load().frontends {
		if f.name != name {
			continue
		}
		for _, k := range f.binds {
			if e.listeners[k] == nil {
				return false
			}
		}
		return true
	}
	return false
}

// BoundAddrs returns the addresses the frontend's listeners are bound to
// (useful with port 0).
func (e *Engine) BoundAddrs(name string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, f := range e.gen.Load().frontends {
		if f.name != name {
			continue
		}
		for _, k := range f.binds {
			if l := e.listeners[k]; l != nil {
				out = append(out, l.ln.Addr().String())
			}
		}
	}
	return out
}

func (e *Engine) rate(c *counters, now time.Time) float64 {
	e.statMu.Lock()
	defer e.statMu.Unlock()
	n := c.requests.Load()
	var r float64
	if !c.lastReqSample.IsZero() {
		if d := now.Sub(c.lastReqSample).Seconds(); d > 0 {
			r = float64(n-c.lastReqCount) / d
		}
	}
	c.lastReqCount, c.lastReqSample = n, now
	return r
}

// Frontends returns a status snapshot of every frontend.
func (e *Engine) Frontends() []FrontendStatus {
	g := e.gen.Load()
	now := time.Now()
	out := make([]FrontendStatus, 0, len(g.frontends))
	for _, f := range g.frontends {
		binds := make([]string, len(f.binds))
		for i, k := range f.binds {
			binds[i] = bindDisplay(k)
		}
		limit := int64(f.maxconn)
		if limit == 0 {
			limit = int64(g.maxconn)
		}
		fs := FrontendStatus{
			Name: f.name, Mode: f.mode, Binds: binds, Serving: e.FrontendServing(f.name),
			Sessions: f.st.cur.Load(), MaxSession: f.st.max.Load(), Limit: limit,
			Total: f.st.total.Load(), Requests: f.st.requests.Load(), ReqRate: e.rate(f.st, now),
			BytesIn: f.st.bytesIn.Load(), BytesOut: f.st.bytesOut.Load(),
			DeniedReq: f.st.denied.Load(), DeniedConn: f.st.deniedConn.Load(), ErrorsReq: f.st.errReq.Load(), Responses: f.st.respMap(),
			ProxyErrors: f.st.ppErr.Load(),
			H2Streams:   f.st.h2Streams.Load(), H2Refused: f.st.h2Refused.Load(), H2Resets: f.st.h2Resets.Load(),
			H2Calm: f.st.h2Calm.Load(), H2StreamsCur: f.st.h2Cur.Load(),
		}
		if f.tls != nil {
			fs.TLSHandshakes, fs.TLSFailures = f.st.tlsOK.Load(), f.st.tlsFailMap()
		}
		out = append(out, fs)
	}
	return out
}

// Backends returns a status snapshot of every backend and its servers, in
// configuration order.
func (e *Engine) Backends() []BackendStatus {
	g := e.gen.Load()
	out := make([]BackendStatus, 0, len(g.order))
	for _, name := range g.order {
		b := g.backends[name]
		bs := BackendStatus{
			Name: b.name, Mode: b.mode, Balance: b.algo, Usable: anyLB(b.servers),
			Sessions: b.st.cur.Load(), MaxSession: b.st.max.Load(), Total: b.st.total.Load(),
			Queue: b.st.queueCur.Load(), MaxQueue: b.st.queueMax.Load(),
			BytesIn: b.st.bytesIn.Load(), BytesOut: b.st.bytesOut.Load(),
			ErrorsConn: b.st.errConn.Load(), ErrorsResp: b.st.errResp.Load(),
			Retries: b.st.retries.Load(), Redispatch: b.st.redispatch.Load(), Responses: b.st.respMap(),
		}
		for _, s := range b.servers {
			st := &s.sh.st
			bs.Servers = append(bs.Servers, ServerStatus{
				Name: s.name, Address: s.addr, State: serverStateString(s), Weight: s.weight(), Backup: s.backup,
				Sessions: st.cur.Load(), MaxSession: st.max.Load(), Limit: s.maxconn, Total: st.total.Load(),
				Queue: st.queueCur.Load(), MaxQueue: st.queueMax.Load(),
				BytesIn: st.bytesIn.Load(), BytesOut: st.bytesOut.Load(),
				ErrorsConn: st.errConn.Load(), ErrorsResp: st.errResp.Load(),
				Retries: st.retries.Load(), Redispatch: st.redispatch.Load(), Responses: st.respMap(),
				TLS: s.tls != nil, TLSHandshakes: st.tlsSrvOK.Load(),
			})
			if s.tls != nil {
				ss := &bs.Servers[len(bs.Servers)-1]
				ss.TLSFailures, ss.TLSFailureReasons = st.tlsSrvFailures()
			}
		}
		out = append(out, bs)
	}
	return out
}

func serverStateString(s *server) string {
	up := s.sh.up.Load()
	switch checks.Admin(s.sh.admin.Load()) {
	case checks.Maint:
		return checks.StateMaint
	case checks.Drain:
		if up {
			return checks.StateDrain
		}
	}
	if up {
		return checks.StateUp
	}
	return checks.StateDown
}

// ServerNames lists "backend/server" for every server (sorted).
func (e *Engine) ServerNames() []string {
	g := e.gen.Load()
	var out []string
	for _, b := range g.backends {
		for _, s := range b.servers {
			out = append(out, b.name+"/"+s.name)
		}
	}
	sort.Strings(out)
	return out
}
