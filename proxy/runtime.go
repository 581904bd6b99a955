package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
)

// Fallbacks for fields a hand-built Config leaves zero: config.Load fills
// them with these same defaults.
const (
	fallbackConnect     = config.DefaultConnect
	fallbackClient      = config.DefaultClient
	fallbackServer      = config.DefaultServer
	fallbackHTTPRequest = config.DefaultHTTPRequest
	fallbackRetries     = config.DefaultRetries
	fallbackMaxconn     = config.DefaultMaxconn
	// poolIdleTimeout retires idle backend connections well before common
	// backend keep-alive timeouts (Apache 5s, nginx 75s, Go 90s+).
	poolIdleTimeout = 2 * time.Second
	poolMaxIdle     = 256
)

// generation is one compiled configuration.
type generation struct {
	cfg       *config.Config
	frontends []*frontend
	backends  map[string]*backend
	maxconn   int
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
	mode        string
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
	stats       *statsCfg
	st          *counters
}

type cookieMode uint8

const (
	cookieInsert cookieMode = iota
	cookieRewrite
	cookiePrefix
)

type cookieCfg struct {
	name     string
	mode     cookieMode
	indirect bool
	nocache  bool
	httpOnly bool
	secure   bool
	domain   string
	preserve bool
}

type backend struct {
	name        string
	mode        string
	balance     string
	algo        balanceAlgo
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
	fwd         *fwdCfg
	httpClose   bool
	serverClose bool
	st          *counters

	mu      sync.Mutex
	queue   []*waiter
	rrStart int
}

// registry holds what survives reloads, keyed by name.
type registry struct {
	mu        sync.Mutex
	servers   map[string]*serverShared // "backend/server"
	backends  map[string]*counters
	frontends map[string]*counters
}

func newRegistry() *registry {
	return &registry{servers: map[string]*serverShared{}, backends: map[string]*counters{}, frontends: map[string]*counters{}}
}

// compile validates cfg and builds a generation. It only reads reg; the
// caller commits the new shared objects with commit on success.
func compile(cfg *config.Config, reg *registry) (*generation, *registry, error) {
	if cfg == nil {
		return nil, nil, errors.New("nil config")
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	next := newRegistry()
	g := &generation{cfg: cfg, backends: map[string]*backend{}, maxconn: cfg.Global.Maxconn}
	if g.maxconn <= 0 {
		g.maxconn = fallbackMaxconn
	}
	d := &cfg.Defaults
	var errs []error
	for i := range cfg.Backends {
		bc := &cfg.Backends[i]
		if _, dup := g.backends[bc.Name]; dup {
			errs = append(errs, fmt.Errorf("backend %q defined twice", bc.Name))
			continue
		}
		b, err := compileBackend(bc, d, reg, next)
		if err != nil {
			errs = append(errs, fmt.Errorf("backend %s: %w", bc.Name, err))
			continue
		}
		g.backends[b.name] = b
	}
	seenBind := map[string]string{}
	seenFE := map[string]bool{}
	for i := range cfg.Frontends {
		fc := &cfg.Frontends[i]
		if seenFE[fc.Name] {
			errs = append(errs, fmt.Errorf("frontend %q defined twice", fc.Name))
			continue
		}
		seenFE[fc.Name] = true
		f, err := compileFrontend(fc, d, g, reg, next)
		if err != nil {
			errs = append(errs, fmt.Errorf("frontend %s: %w", fc.Name, err))
			continue
		}
		for _, bnd := range f.binds {
			if other, ok := seenBind[bnd]; ok {
				errs = append(errs, fmt.Errorf("frontend %s: bind %s already used by frontend %s", f.name, bnd, other))
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

func pickDur(vals ...time.Duration) time.Duration {
	for _, v := range vals {
		if v > 0 {
			return v
		}
	}
	return 0
}

func pickBool(vals ...*bool) bool {
	for _, v := range vals {
		if v != nil {
			return *v
		}
	}
	return false
}

func legacy(t config.Timeouts) config.Timeouts {
	t.Connect = pickDur(t.Connect, t.Contimeout)
	t.Client = pickDur(t.Client, t.Clitimeout)
	t.Server = pickDur(t.Server, t.Srvtimeout)
	return t
}

func compileFwd(o, d *config.ForwardFor) (*fwdCfg, error) {
	ff := o
	if ff == nil {
		ff = d
	}
	if ff == nil || ff.Disabled {
		return nil, nil
	}
	f := &fwdCfg{header: []byte(ff.Header), ifNone: ff.IfNone}
	if len(f.header) == 0 {
		f.header = []byte("X-Forwarded-For")
	}
	for _, e := range ff.Except {
		p, err := parsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("forwardfor except: %w", err)
		}
		f.except = append(f.except, p)
	}
	return f, nil
}

func compileBackend(bc *config.Backend, d *config.Defaults, reg, next *registry) (*backend, error) {
	t, dt := legacy(bc.Timeouts), legacy(d.Timeouts)
	b := &backend{
		name:        bc.Name,
		mode:        strings.ToLower(pickStr(bc.Mode, d.Mode, "http")),
		balance:     pickStr(bc.Balance, d.Balance, "roundrobin"),
		connect:     pickDur(t.Connect, dt.Connect, fallbackConnect),
		server:      pickDur(t.Server, dt.Server, fallbackServer),
		redispatch:  pickBool(bc.Options.Redispatch, d.Options.Redispatch),
		httpClose:   pickBool(bc.Options.HTTPClose, d.Options.HTTPClose),
		serverClose: pickBool(bc.Options.HTTPServerClose, d.Options.HTTPServerClose),
	}
	b.queueTO = pickDur(t.Queue, dt.Queue, b.connect)
	b.tunnel = pickDur(t.Tunnel, dt.Tunnel)
	if b.mode != "http" && b.mode != "tcp" {
		return nil, fmt.Errorf("mode %q: want http or tcp", b.mode)
	}
	algo, ok := algoNames[strings.ToLower(b.balance)]
	if !ok {
		return nil, fmt.Errorf("balance %q: want roundrobin, leastconn, source or first", b.balance)
	}
	b.algo = algo
	switch {
	case bc.Retries != nil:
		b.retries = *bc.Retries
	case d.Retries != nil:
		b.retries = *d.Retries
	default:
		b.retries = fallbackRetries
	}
	if b.retries < 0 || b.retries > 100 {
		return nil, fmt.Errorf("retries %d out of range 0..100", b.retries)
	}
	var err error
	if b.fwd, err = compileFwd(bc.Options.ForwardFor, d.Options.ForwardFor); err != nil {
		return nil, err
	}
	if c := bc.Cookie; c != nil {
		if c.Name == "" {
			return nil, errors.New("cookie: empty name")
		}
		cc := &cookieCfg{name: c.Name, indirect: c.Indirect, nocache: c.NoCache, httpOnly: c.HTTPOnly, secure: c.Secure, domain: c.Domain, preserve: c.Preserve}
		switch strings.ToLower(c.Mode) {
		case "", "insert":
			cc.mode = cookieInsert
		case "rewrite":
			cc.mode = cookieRewrite
		case "prefix":
			cc.mode = cookiePrefix
		default:
			return nil, fmt.Errorf("cookie mode %q: want insert, rewrite or prefix", c.Mode)
		}
		b.cookie = cc
	}
	if ctr, ok := reg.backends[b.name]; ok {
		b.st = ctr
	} else {
		b.st = &counters{}
	}
	next.backends[b.name] = b.st
	names := map[string]bool{}
	for i := range bc.Servers {
		sc := &bc.Servers[i]
		if sc.Name == "" || names[sc.Name] {
			return nil, fmt.Errorf("server %q: empty or duplicate name", sc.Name)
		}
		names[sc.Name] = true
		if _, _, err := net.SplitHostPort(sc.Address); err != nil {
			return nil, fmt.Errorf("server %s: address %q: %w", sc.Name, sc.Address, err)
		}
		w := 1
		if sc.Weight != nil {
			w = *sc.Weight
		}
		if w < 0 || w > 256 {
			return nil, fmt.Errorf("server %s: weight %d out of range 0..256", sc.Name, w)
		}
		s := &server{name: sc.Name, addr: sc.Address, da: resolveDialAddr(sc.Address), cookie: sc.Cookie, backup: sc.Backup, maxconn: int64(sc.Maxconn), maxqueue: sc.Maxqueue, be: b}
		key := b.name + "/" + s.name
		sh := reg.servers[key]
		if sh == nil {
			sh = &serverShared{addr: sc.Address, pool: newConnPool(), lastChange: time.Now()}
			sh.up.Store(true)
			if sc.Disabled {
				sh.admin.Store(int32(AdminMaint))
			}
			sh.weight.Store(int32(w))
			sh.cfgWeight = w
		} else if sh.addr != sc.Address || sh.cfgWeight != w {
			// Address or configured weight changed: keep state and
			// counters, take the new settings (on commit).
			sh = &serverShared{addr: sc.Address, pool: newConnPool(), cfgWeight: w}
			old := reg.servers[key]
			sh.up.Store(old.up.Load())
			sh.admin.Store(old.admin.Load())
			sh.weight.Store(int32(w))
			copyCounters(&sh.st, &old.st)
			sh.lastChange, sh.downSince, sh.downtime, sh.transitions = old.lastChange, old.downSince, old.downtime, old.transitions
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
	for i := range dst.resp {
		dst.resp[i].Store(src.resp[i].Load())
	}
}

func pickStr(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func compileFrontend(fc *config.Frontend, d *config.Defaults, g *generation, reg, next *registry) (*frontend, error) {
	t, dt := legacy(fc.Timeouts), legacy(d.Timeouts)
	f := &frontend{
		name:        fc.Name,
		mode:        strings.ToLower(pickStr(fc.Mode, d.Mode, "http")),
		httpRequest: pickDur(t.HTTPRequest, dt.HTTPRequest, fallbackHTTPRequest),
		client:      pickDur(t.Client, dt.Client, fallbackClient),
		tunnel:      pickDur(t.Tunnel, dt.Tunnel),
		maxconn:     pickInt(fc.Maxconn, d.Maxconn),
		httpClose:   pickBool(fc.Options.HTTPClose, d.Options.HTTPClose),
		serverClose: pickBool(fc.Options.HTTPServerClose, d.Options.HTTPServerClose),
		log:         pickStr(fc.Log, d.Log, "global") != "none",
		dontLogNull: pickBool(fc.Options.DontLogNull, d.Options.DontLogNull),
	}
	f.keepAlive = pickDur(t.HTTPKeepAlive, dt.HTTPKeepAlive, f.httpRequest)
	f.stats = compileStats(fc.Stats)
	if f.mode != "http" && f.mode != "tcp" {
		return nil, fmt.Errorf("mode %q: want http or tcp", f.mode)
	}
	if len(fc.Bind) == 0 {
		return nil, errors.New("no bind address")
	}
	for _, bnd := range fc.Bind {
		key, err := normalizeBind(bnd)
		if err != nil {
			return nil, err
		}
		f.binds = append(f.binds, key)
	}
	if f.maxconn > 0 {
		f.sem = make(chan struct{}, f.maxconn)
	}
	var err error
	if f.fwd, err = compileFwd(fc.Options.ForwardFor, d.Options.ForwardFor); err != nil {
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
		if f.mode == "tcp" && c.kind != aclSrc {
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
		case ub.If != "" && ub.Unless != "":
			return nil, fmt.Errorf("use_backend %s: both if and unless", ub.Backend)
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
	files := fc.ErrorFiles
	if files == nil {
		files = d.ErrorFiles
	}
	if f.errPages, err = buildErrorPages(files, os.ReadFile); err != nil {
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

func pickInt(vals ...int) int {
	for _, v := range vals {
		if v > 0 {
			return v
		}
	}
	return 0
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
