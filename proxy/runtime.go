package proxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lbd-ha/lbd/checks"
)

const (
	// poolIdleTimeout retires idle backend connections well before common
	// backend keep-alive timeouts (Apache 5s, nginx 75s, Go 90s+); the
	// reaper closes them (HAProxy's pool-purge-delay, 5 s by default).
	poolIdleTimeout = 2 * time.Second
	// poolMaxIdle bounds one server's idle connections. It is a safety
	// bound only: a server never has more idle connections than requests
	// were in flight to it at once, and those above what the load needs
	// sit at the bottom of the most-recently-used stack until the reaper
	// closes them. A low bound (it was 256) made a proxy with more
	// requests in flight than that close connections after a response and
	// dial new ones for the next requests: at 1,000 client connections
	// lbd opened 8,700 server connections in 5 s (HAProxy, which keeps
	// every idle connection, 1,100), and each waited in nginx's accept
	// queue, which one nginx worker serves one connection per event-loop
	// turn: the p99 of bench case (b1k) was 10x HAProxy's (issue 20).
	poolMaxIdle = 1 << 16
)

// generation is one compiled configuration.
type generation struct {
	frontends []*frontend
	backends  map[string]*backend
	order     []string // backend names in configuration order
	maxconn   int
	tables    map[string]*stickTable
}

type fwdCfg struct {
	header []byte
	except []netip.Prefix
	ifNone bool
}

type useRule struct {
	cond *condition
	be   *backend
}

type frontend struct {
	name        string
	mode        Mode
	binds       []string
	rules       []useRule
	defBackend  *backend
	httpRequest time.Duration
	keepAlive   time.Duration
	client      time.Duration
	tunnel      time.Duration
	maxconn     int
	sem         chan struct{}
	errPages    map[int][]byte
	fwd         *fwdCfg
	httpClose   bool
	serverClose bool
	log         bool
	dontLogNull bool
	h2c         bool // binds speak cleartext HTTP/2 (Frontend.H2C)
	stats       *statsCfg
	st          *counters
	pp          *ppCfg // accept-proxy; nil: off
	// tls holds the TLS configuration of the TLS binds, by bind key.
	tls       map[string]*tls.Config
	redirects []httpRule // frontend `redirects:`, compiled as redirect rules
	// rules.go
	reqRules   []httpRule
	respRules  []httpRule
	tcpConn    []httpRule
	tcpContent []httpRule
	normalize  NormalizeURI
	tarpit     time.Duration
}

type cookieCfg struct {
	name     string
	mode     CookieMode
	indirect bool
	nocache  bool
	httpOnly bool
	secure   bool
	domain   string
	preserve bool
}

type backend struct {
	name        string
	mode        Mode
	algo        Balance
	servers     []*server
	active      []*server
	backups     []*server
	allBackups  bool
	cookie      *cookieCfg
	retries     int
	redispatch  bool
	connect     time.Duration
	server      time.Duration
	queueTO     time.Duration
	tunnel      time.Duration
	tunnelFixed bool
	fwd         *fwdCfg
	httpClose   bool
	serverClose bool
	st          *counters

	mu      sync.Mutex
	queue   []*waiter
	rrStart int
}

// tunnelIdle is the inactivity limit of a tunnel from fe through b: the
// backend's own fixed value, else the frontend's, else the backend's, else
// max(client, server) (see Frontend.TunnelTimeout).
func tunnelIdle(fe *frontend, b *backend) time.Duration {
	switch {
	case b.tunnelFixed && b.tunnel > 0:
		return b.tunnel
	case fe.tunnel > 0:
		return fe.tunnel
	case b.tunnel > 0:
		return b.tunnel
	}
	return max(fe.client, b.server)
}

// registry holds what survives reloads, keyed by name.
type registry struct {
	mu        sync.Mutex
	servers   map[string]*serverShared // "backend/server"
	backends  map[string]*counters
	frontends map[string]*counters
	tables    map[string]*stickTable
}

func newRegistry() *registry {
	return &registry{servers: map[string]*serverShared{}, backends: map[string]*counters{}, frontends: map[string]*counters{}, tables: map[string]*stickTable{}}
}

// compile builds a generation from cfg. It only reads reg; the caller
// commits the new shared objects with commit on success.
func compile(cfg *Config, reg *registry) (*generation, *registry, error) {
	if cfg == nil {
		return nil, nil, errors.New("nil config")
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	next := newRegistry()
	g := &generation{backends: map[string]*backend{}, maxconn: cfg.Maxconn}
	var errs []error
	for i := range cfg.Backends {
		bc := &cfg.Backends[i]
		b, err := compileBackend(bc, reg, next)
		if err != nil {
			errs = append(errs, fmt.Errorf("backend %s: %w", bc.Name, err))
			continue
		}
		g.backends[b.name] = b
		g.order = append(g.order, b.name)
	}
	errs = append(errs, compileTables(cfg.Tables, g, reg, next)...)
	seenBind := map[string]string{}
	for i := range cfg.Frontends {
		fc := &cfg.Frontends[i]
		f, err := compileFrontend(fc, g, reg, next)
		if err != nil {
			errs = append(errs, fmt.Errorf("frontend %s: %w", fc.Name, err))
			continue
		}
		for _, bnd := range f.binds {
			if other, ok := seenBind[bnd]; ok {
				errs = append(errs, fmt.Errorf("frontend %s: bind %s already used by frontend %s", f.name, bindDisplay(bnd), other))
			}
			seenBind[bnd] = f.name
		}
		g.frontends = append(g.frontends, f)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return g, next, nil
}

func compileFwd(ff *ForwardFor) (*fwdCfg, error) {
	if ff == nil {
		return nil, nil
	}
	if ff.Header == "" {
		return nil, errors.New("forwardfor: empty header name")
	}
	f := &fwdCfg{header: []byte(ff.Header), ifNone: ff.IfNone}
	for _, e := range ff.Except {
		p, err := parsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("forwardfor except: %w", err)
		}
		f.except = append(f.except, p)
	}
	return f, nil
}

func compileBackend(bc *Backend, reg, next *registry) (*backend, error) {
	b := &backend{
		name:        bc.Name,
		mode:        bc.Mode,
		algo:        bc.Balance,
		retries:     bc.Retries,
		redispatch:  bc.Redispatch,
		connect:     bc.ConnectTimeout,
		server:      bc.ServerTimeout,
		queueTO:     bc.QueueTimeout,
		tunnel:      bc.TunnelTimeout,
		tunnelFixed: bc.TunnelFixed,
		httpClose:   bc.HTTPClose,
		serverClose: bc.HTTPServerClose,
	}
	for _, sc := range bc.Servers {
		if sc.SendProxy < 0 || sc.SendProxy > SendProxyV2 {
			return nil, fmt.Errorf("server %s: SendProxy %d (0, 1 or 2)", sc.Name, sc.SendProxy)
		}
	}
	if b.connect <= 0 || b.server <= 0 {
		return nil, errors.New("ConnectTimeout and ServerTimeout are required")
	}
	var err error
	if b.fwd, err = compileFwd(bc.ForwardFor); err != nil {
		return nil, err
	}
	if c := bc.Cookie; c != nil {
		if c.Name == "" {
			return nil, errors.New("cookie: empty name")
		}
		b.cookie = &cookieCfg{name: c.Name, mode: c.Mode, indirect: c.Indirect, nocache: c.NoCache, httpOnly: c.HTTPOnly, secure: c.Secure, domain: c.Domain, preserve: c.Preserve}
	}
	if ctr, ok := reg.backends[b.name]; ok {
		b.st = ctr
	} else {
		b.st = &counters{}
	}
	next.backends[b.name] = b.st
	for i := range bc.Servers {
		sc := &bc.Servers[i]
		w := sc.Weight
		s := &server{name: sc.Name, addr: sc.Address, da: resolveDialAddr(sc.Address), cookie: sc.Cookie, backup: sc.Backup, maxconn: int64(sc.Maxconn), maxqueue: sc.Maxqueue, be: b, sendProxy: sc.SendProxy}
		key := b.name + "/" + s.name
		sh := reg.servers[key]
		if sh == nil {
			sh = &serverShared{addr: sc.Address, pool: newConnPool()}
			sh.up.Store(true)
			if sc.Disabled {
				sh.admin.Store(int32(checks.Maint))
			}
			sh.weight.Store(int32(w))
			sh.cfgWeight = w
		} else if sh.addr != sc.Address || sh.cfgWeight != w || !sameServerTLS(sh.tlsOpts, sc.TLS) {
			// Address or configured weight changed: keep state and
			// counters, take the new settings (on commit).
			old := sh
			sh = &serverShared{addr: sc.Address, pool: newConnPool(), cfgWeight: w}
			sh.up.Store(old.up.Load())
			sh.admin.Store(old.admin.Load())
			sh.weight.Store(int32(w))
			copyCounters(&sh.st, &old.st)
		}
		if sc.TLS != nil {
			if sh.sess == nil {
				sh.sess = tls.NewLRUClientSessionCache(sessionCacheSize)
			}
			st := *sc.TLS
			sh.tlsOpts = &st
			t, err := compileServerTLS(sc.TLS, sh)
			if err != nil {
				return nil, fmt.Errorf("server %s: %w", sc.Name, err)
			}
			s.tls = t
		}
		s.sh = sh
		next.servers[key] = sh
		b.servers = append(b.servers, s)
		if s.backup {
			b.backups = append(b.backups, s)
		} else {
			b.active = append(b.active, s)
		}
	}
	return b, nil
}

func copyCounters(dst, src *counters) {
	dst.total.Store(src.total.Load())
	dst.bytesIn.Store(src.bytesIn.Load())
	dst.bytesOut.Store(src.bytesOut.Load())
	dst.errConn.Store(src.errConn.Load())
	dst.errResp.Store(src.errResp.Load())
	dst.retries.Store(src.retries.Load())
	dst.redispatch.Store(src.redispatch.Load())
	dst.max.Store(src.max.Load())
	dst.queueMax.Store(src.queueMax.Load())
	dst.tlsSrvOK.Store(src.tlsSrvOK.Load())
	for i := range dst.tlsSrvFail {
		dst.tlsSrvFail[i].Store(src.tlsSrvFail[i].Load())
	}
	for i := range dst.resp {
		dst.resp[i].Store(src.resp[i].Load())
	}
}

func compileFrontend(fc *Frontend, g *generation, reg, next *registry) (*frontend, error) {
	f := &frontend{
		name:        fc.Name,
		mode:        fc.Mode,
		httpRequest: fc.HTTPRequestTimeout,
		keepAlive:   fc.KeepAliveTimeout,
		client:      fc.ClientTimeout,
		tunnel:      fc.TunnelTimeout,
		maxconn:     fc.Maxconn,
		httpClose:   fc.HTTPClose,
		serverClose: fc.HTTPServerClose,
		log:         fc.Log,
		dontLogNull: fc.DontLogNull,
		h2c:         fc.H2C,
	}
	if f.client <= 0 || (f.mode == ModeHTTP && (f.httpRequest <= 0 || f.keepAlive <= 0)) {
		return nil, errors.New("ClientTimeout (and in mode http HTTPRequestTimeout, KeepAliveTimeout) are required")
	}
	var err error
	if f.stats, err = compileStats(fc.Stats); err != nil {
		return nil, err
	}
	if len(fc.Binds) == 0 {
		return nil, errors.New("no bind address")
	}
	for _, bnd := range fc.Binds {
		key, err := normalizeBind(bnd)
		if err != nil {
			return nil, err
		}
		f.binds = append(f.binds, key)
		if tc := fc.TLS[bnd]; tc != nil {
			if f.mode != ModeHTTP {
				return nil, fmt.Errorf("bind %s: TLS is supported in mode http only", bnd)
			}
			if f.tls == nil {
				f.tls = map[string]*tls.Config{}
			}
			f.tls[key] = tc
		}
	}
	for bnd := range fc.TLS {
		if !slices.Contains(fc.Binds, bnd) {
			return nil, fmt.Errorf("TLS for %s, which is not one of the binds", bnd)
		}
	}
	if f.maxconn > 0 {
		f.sem = make(chan struct{}, f.maxconn)
	}
	if f.fwd, err = compileFwd(fc.ForwardFor); err != nil {
		return nil, err
	}
	if f.pp, err = compileAcceptProxy(fc.AcceptProxy); err != nil {
		return nil, err
	}
	named := map[string][]*acl{}
	for _, a := range fc.ACLs {
		if a.Name == "" {
			return nil, errors.New("acl with empty name")
		}
		c, err := compileACL(a)
		if err != nil {
			return nil, err
		}
		if f.mode == ModeTCP && c.kind != aclSrc && c.kind != aclInt {
			return nil, fmt.Errorf("acl %s: only src works in mode tcp", a.Name)
		}
		named[a.Name] = append(named[a.Name], c)
	}
	lookup := func(name string) (*backend, error) {
		b, ok := g.backends[name]
		if !ok {
			return nil, fmt.Errorf("unknown backend %q (known: %s)", name, strings.Join(sortedKeys(g.backends), ", "))
		}
		if b.mode != f.mode {
			return nil, fmt.Errorf("backend %s is mode %s, frontend is mode %s", name, b.mode, f.mode)
		}
		return b, nil
	}
	for _, ub := range fc.UseBackends {
		b, err := lookup(ub.Backend)
		if err != nil {
			return nil, err
		}
		var c *condition
		switch {
		case ub.If != "":
			c, err = compileCondition(ub.If, false, named)
		case ub.Unless != "":
			c, err = compileCondition(ub.Unless, true, named)
		}
		if err != nil {
			return nil, fmt.Errorf("use_backend %s: %w", ub.Backend, err)
		}
		f.rules = append(f.rules, useRule{cond: c, be: b})
	}
	if fc.DefaultBackend != "" {
		if f.defBackend, err = lookup(fc.DefaultBackend); err != nil {
			return nil, fmt.Errorf("default_backend: %w", err)
		}
	}
	if f.errPages, err = buildErrorPages(fc.ErrorFiles, os.ReadFile); err != nil {
		return nil, err
	}
	if err := compileFrontendRules(f, fc, named, g); err != nil {
		return nil, err
	}
	if ctr, ok := reg.frontends[f.name]; ok {
		f.st = ctr
	} else {
		f.st = &counters{}
	}
	next.frontends[f.name] = f.st
	return f, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// normalizeBind turns "*:80", ":80", "0.0.0.0:80", "10.0.0.1:80" and
// "[::]:80" into "tcp4|0.0.0.0:80"-style keys: the network and a canonical
// address. "*" means all IPv4 addresses, as in HAProxy.
func normalizeBind(s string) (string, error) {
	host, port, err := net.SplitHostPort(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("bind %q: %w", s, err)
	}
	if port == "" {
		return "", fmt.Errorf("bind %q: missing port", s)
	}
	if host == "" || host == "*" {
		host = "0.0.0.0"
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("bind %q: address must be an IP literal or *", s)
	}
	network := "tcp4"
	if a.Is6() && !a.Is4In6() {
		network = "tcp6"
	}
	return network + "|" + net.JoinHostPort(a.Unmap().String(), port), nil
}

func splitBindKey(key string) (network, addr string) {
	i := strings.IndexByte(key, '|')
	return key[:i], key[i+1:]
}

func bindDisplay(key string) string {
	_, a := splitBindKey(key)
	return a
}
