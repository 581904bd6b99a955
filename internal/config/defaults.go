package config

import (
	"fmt"
	"time"

	"github.com/lbd-ha/lbd/checks"
)

// Built-in defaults. They follow HAProxy where its users would expect it
// (retries 3, check inter 2s rise 2 fall 3, weight 1) and keepalived for VRRP
// (priority 100, advert 1s, preempt on). docs/config.md lists them; a test
// checks that every one appears there.
const (
	DefaultMaxconn        = 4096
	DefaultControlSocket  = "/run/lbd/lbd.sock"
	DefaultMode           = "http"
	DefaultRetries        = 3
	DefaultConnect        = 5 * time.Second
	DefaultClient         = 50 * time.Second
	DefaultServer         = 50 * time.Second
	DefaultHTTPRequest    = 10 * time.Second
	DefaultBalance        = "roundrobin"
	DefaultInter          = checks.DefaultInter // one owner: the checks' zero Params mean the same
	DefaultRise           = checks.DefaultRise
	DefaultFall           = checks.DefaultFall
	DefaultWeight         = 1
	DefaultCookieMode     = "insert"
	DefaultStatsURI       = "/lbd?stats"
	DefaultStatsRealm     = "lbd statistics"
	DefaultMetricsPath    = "/metrics"
	DefaultPriority       = 100
	DefaultAdvertInterval = time.Second
	DefaultVRRPVersion    = 3
	DefaultGARPDelay      = 5 * time.Second
	DefaultGARPRepeat     = 5
	DefaultFileMax        = 100000
	DefaultConntrackMax   = 131072
	DefaultLogFacility    = "local0"
	DefaultLogLevel       = "info"
	DefaultHardStopAfter  = 30 * time.Second
	// DefaultSSLServerVerify is HAProxy's ssl-server-verify default.
	DefaultSSLServerVerify = "required"
)

func boolp(b bool) *bool { return &b }
func intp(i int) *int    { return &i }

// True reports whether an optional flag is set and true.
func True(b *bool) bool { return b != nil && *b }

func firstDur(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d != 0 {
			return d
		}
	}
	return 0
}

func firstStr(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func firstInt(is ...int) int {
	for _, i := range is {
		if i != 0 {
			return i
		}
	}
	return 0
}

func firstBool(bs ...*bool) *bool {
	for _, b := range bs {
		if b != nil {
			return b
		}
	}
	return boolp(false)
}

// foldLegacy moves contimeout/clitimeout/srvtimeout into the modern fields.
func (t *Timeouts) foldLegacy() {
	t.Connect = firstDur(t.Connect, t.Contimeout)
	t.Client = firstDur(t.Client, t.Clitimeout)
	t.Server = firstDur(t.Server, t.Srvtimeout)
	t.Contimeout, t.Clitimeout, t.Srvtimeout = 0, 0, 0
}

// inherit fills t's unset timeouts from d.
func (t *Timeouts) inherit(d Timeouts) {
	t.HTTPRequest = firstDur(t.HTTPRequest, d.HTTPRequest)
	t.HTTPKeepAlive = firstDur(t.HTTPKeepAlive, d.HTTPKeepAlive)
	t.Client = firstDur(t.Client, d.Client)
	t.Server = firstDur(t.Server, d.Server)
	t.Connect = firstDur(t.Connect, d.Connect)
	t.Queue = firstDur(t.Queue, d.Queue)
	t.Tunnel = firstDur(t.Tunnel, d.Tunnel)
	t.Check = firstDur(t.Check, d.Check)
	t.Tarpit = firstDur(t.Tarpit, d.Tarpit)
}

// builtinTimeouts completes a fully inherited set: HAProxy semantics where
// one timeout falls back to another (keep-alive -> http-request, queue ->
// connect, tunnel -> max(client, server)).
func (t *Timeouts) builtin() {
	t.Connect = firstDur(t.Connect, DefaultConnect)
	t.Client = firstDur(t.Client, DefaultClient)
	t.Server = firstDur(t.Server, DefaultServer)
	t.HTTPRequest = firstDur(t.HTTPRequest, DefaultHTTPRequest)
	t.HTTPKeepAlive = firstDur(t.HTTPKeepAlive, t.HTTPRequest)
	t.Queue = firstDur(t.Queue, t.Connect)
	t.Tarpit = firstDur(t.Tarpit, t.Connect)
	t.Tunnel = firstDur(t.Tunnel, max(t.Client, t.Server))
}

func (o *Options) inherit(d Options) {
	o.HTTPLog = firstBool(o.HTTPLog, d.HTTPLog)
	o.TCPLog = firstBool(o.TCPLog, d.TCPLog)
	o.DontLogNull = firstBool(o.DontLogNull, d.DontLogNull)
	o.HTTPServerClose = firstBool(o.HTTPServerClose, d.HTTPServerClose)
	o.HTTPClose = firstBool(o.HTTPClose, d.HTTPClose)
	o.Redispatch = firstBool(o.Redispatch, d.Redispatch)
	if o.ForwardFor == nil && d.ForwardFor != nil {
		ff := *d.ForwardFor
		o.ForwardFor = &ff
	}
	if o.ForwardFor != nil {
		if o.ForwardFor.Disabled {
			o.ForwardFor = nil
		} else if o.ForwardFor.Header == "" {
			o.ForwardFor.Header = "X-Forwarded-For"
		}
	}
}

func (c *Common) inherit(d Defaults) {
	c.Mode = firstStr(c.Mode, d.Mode, DefaultMode)
	c.Log = firstStr(c.Log, d.Log, "global")
	c.Options.inherit(d.Options)
	c.Timeouts.TunnelSet = c.Timeouts.Tunnel != 0
	c.Timeouts.foldLegacy()
	c.Timeouts.inherit(d.Timeouts)
	c.Timeouts.builtin()
	if c.Retries == nil {
		c.Retries = d.Retries
	}
	if c.Retries == nil {
		c.Retries = intp(DefaultRetries)
	}
	c.Maxconn = firstInt(c.Maxconn, d.Maxconn)
}

func (s *ServerDefaults) inherit(d *ServerDefaults) {
	if d == nil {
		d = &ServerDefaults{}
	}
	s.Inter = firstDur(s.Inter, d.Inter, DefaultInter)
	s.FastInter = firstDur(s.FastInter, d.FastInter, s.Inter)
	s.DownInter = firstDur(s.DownInter, d.DownInter, s.Inter)
	s.Rise = firstInt(s.Rise, d.Rise, DefaultRise)
	s.Fall = firstInt(s.Fall, d.Fall, DefaultFall)
	s.Maxconn = firstInt(s.Maxconn, d.Maxconn)
	s.Maxqueue = firstInt(s.Maxqueue, d.Maxqueue)
	s.OnMarkedDown = firstStr(s.OnMarkedDown, d.OnMarkedDown)
	s.SSL = mergeServerSSL(s.SSL, d.SSL)
	if s.CheckSSL == nil && d.CheckSSL != nil {
		s.CheckSSL = boolp(*d.CheckSSL)
	}
	s.CheckSNI = firstStr(s.CheckSNI, d.CheckSNI)
}

func (b *BackendPart) inherit(d Defaults) {
	b.Balance = firstStr(b.Balance, d.Balance, DefaultBalance)
	if b.HealthCheck == nil && d.HealthCheck != nil {
		hc := *d.HealthCheck
		b.HealthCheck = &hc
	}
	if b.HealthCheck == nil {
		b.HealthCheck = &HealthCheck{}
	}
	hc := b.HealthCheck
	hc.Type = firstStr(hc.Type, "tcp")
	if hc.Type == "http" {
		hc.Method = firstStr(hc.Method, "OPTIONS")
		hc.URI = firstStr(hc.URI, "/")
		hc.Version = firstStr(hc.Version, "HTTP/1.0")
	}
	if b.Cookie != nil {
		b.Cookie.Mode = firstStr(b.Cookie.Mode, DefaultCookieMode)
	}
	for i := range b.Servers {
		s := &b.Servers[i]
		s.ServerDefaults.inherit(d.DefaultServer)
		if s.Weight == nil {
			s.Weight = intp(DefaultWeight)
		}
	}
}

func (s *Stats) defaults() {
	s.URI = firstStr(s.URI, DefaultStatsURI)
	s.Realm = firstStr(s.Realm, DefaultStatsRealm)
}

// normalize applies every default and expands listen sections. Paths of
// expanded sections are recorded in Source so errors point at the file.
func (c *Config) normalize() {
	c.normalizeBGP()
	g := &c.Global
	g.Maxconn = firstInt(g.Maxconn, DefaultMaxconn)
	g.ControlSocket = firstStr(g.ControlSocket, DefaultControlSocket)
	g.HardStopAfter = firstDur(g.HardStopAfter, DefaultHardStopAfter)
	for i := range g.Log {
		g.Log[i].Facility = firstStr(g.Log[i].Facility, DefaultLogFacility)
		g.Log[i].Level = firstStr(g.Log[i].Level, DefaultLogLevel)
	}

	s := &c.Sysctl
	if s.Apply == nil {
		s.Apply = boolp(true)
	}
	if s.IPNonlocalBind == nil {
		s.IPNonlocalBind = boolp(true)
	}
	if s.IPForward == nil {
		s.IPForward = boolp(true)
	}
	if s.FileMax == 0 {
		s.FileMax = DefaultFileMax
	}
	if s.ConntrackMax == 0 {
		s.ConntrackMax = DefaultConntrackMax
	}

	d := c.Defaults
	d.Timeouts.foldLegacy()
	for i := range c.Frontends {
		f := &c.Frontends[i]
		f.Source = fmt.Sprintf("frontends[%d]", i)
		f.Common.inherit(d)
		if f.ErrorFiles == nil {
			f.ErrorFiles = d.ErrorFiles
		}
		if f.Stats != nil {
			f.Stats.defaults()
		}
		f.LogPrivacy.defaults()
	}
	for i := range c.Backends {
		b := &c.Backends[i]
		b.Source = fmt.Sprintf("backends[%d]", i)
		b.Common.inherit(d)
		b.BackendPart.inherit(d)
	}
	for i, l := range c.Listen {
		src := fmt.Sprintf("listen[%d]", i)
		common := l.Common
		common.inherit(d)
		fp := l.FrontendPart
		if fp.DefaultBackend == "" {
			fp.DefaultBackend = l.Name
		}
		if fp.ErrorFiles == nil {
			fp.ErrorFiles = d.ErrorFiles
		}
		if fp.Stats != nil {
			fp.Stats.defaults()
		}
		fp.LogPrivacy = fp.LogPrivacy.copyDefaults()
		bp := l.BackendPart
		bp.inherit(d)
		c.Frontends = append(c.Frontends, Frontend{Name: l.Name, Common: common, FrontendPart: fp, FromListen: true, Source: src})
		c.Backends = append(c.Backends, Backend{Name: l.Name, Common: common, BackendPart: bp, FromListen: true, Source: src})
	}
	c.resolveTLSPaths()
	c.serverSSLDefaults()
	if c.Stats != nil {
		c.Stats.Stats.defaults()
	}
	if c.Metrics != nil {
		c.Metrics.Path = firstStr(c.Metrics.Path, DefaultMetricsPath)
	}

	for i := range c.VRRP.Instances {
		in := &c.VRRP.Instances[i]
		in.Priority = firstInt(in.Priority, DefaultPriority)
		in.AdvertInterval = firstDur(in.AdvertInterval, DefaultAdvertInterval)
		in.Version = firstInt(in.Version, DefaultVRRPVersion)
		if in.Preempt == nil {
			in.Preempt = boolp(true)
		}
		if in.GARP.MasterDelay == nil {
			dd := DefaultGARPDelay
			in.GARP.MasterDelay = &dd
		}
		in.GARP.MasterRepeat = firstInt(in.GARP.MasterRepeat, DefaultGARPRepeat)
	}
}

// FrontendByName returns the named frontend (listen sections included).
func (c *Config) FrontendByName(name string) *Frontend {
	for i := range c.Frontends {
		if c.Frontends[i].Name == name {
			return &c.Frontends[i]
		}
	}
	return nil
}

// BackendByName returns the named backend (listen sections included).
func (c *Config) BackendByName(name string) *Backend {
	for i := range c.Backends {
		if c.Backends[i].Name == name {
			return &c.Backends[i]
		}
	}
	return nil
}
