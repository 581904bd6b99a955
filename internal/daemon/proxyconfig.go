package daemon

import (
	"fmt"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/proxy"
)

// proxyConfig maps a loaded (defaults resolved, validated) lbd.yaml onto the
// proxy's options. It adds no defaults of its own: config.Load resolved
// them. An error means config and proxy disagree on a name (a bug).
func proxyConfig(cfg *config.Config) (*proxy.Config, error) {
	pc := &proxy.Config{Maxconn: cfg.Global.Maxconn}
	for i := range cfg.Frontends {
		f := &cfg.Frontends[i]
		mode, err := proxyMode(f.Mode)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Source, err)
		}
		pf := proxy.Frontend{
			Name: f.Name, Mode: mode, Binds: bindAddresses(f.Bind), DefaultBackend: f.DefaultBackend, Maxconn: f.Maxconn,
			HTTPRequestTimeout: f.Timeouts.HTTPRequest, KeepAliveTimeout: f.Timeouts.HTTPKeepAlive,
			ClientTimeout: f.Timeouts.Client,
			HTTPClose:     config.True(f.Options.HTTPClose), HTTPServerClose: config.True(f.Options.HTTPServerClose),
			ForwardFor: proxyForwardFor(f.Options.ForwardFor),
			Log:        f.Log != "none", DontLogNull: config.True(f.Options.DontLogNull),
			AcceptProxy: proxyAcceptProxy(f.AcceptProxy),
		}
		// A frontend's tunnel applies only when set in the frontend itself:
		// the inherited value is the backend's to apply (docs/config.md).
		if f.Timeouts.TunnelSet {
			pf.TunnelTimeout = f.Timeouts.Tunnel
		}
		pf.H2C = f.H2C()
		for _, a := range f.ACLs {
			pf.ACLs = append(pf.ACLs, proxy.ACL{Name: a.Name, Criterion: a.Criterion, IgnoreCase: a.IgnoreCase, Values: a.Values})
		}
		for _, r := range f.Redirects {
			pf.Redirects = append(pf.Redirects, proxy.Redirect{Scheme: r.Scheme, Code: r.Code, If: r.If, Unless: r.Unless})
		}
		for _, u := range f.UseBackends {
			pf.UseBackends = append(pf.UseBackends, proxy.UseBackend{Backend: u.Backend, If: u.If, Unless: u.Unless})
		}
		for _, ef := range f.ErrorFiles {
			pf.ErrorFiles = append(pf.ErrorFiles, proxy.ErrorFile{Code: ef.Code, File: ef.File})
		}
		if s := f.Stats; s != nil && s.Enable {
			pf.Stats = &proxy.Stats{URI: s.URI, Realm: s.Realm, Auth: s.Auth}
		}
		proxyRules(cfg, f, &pf)
		if f.StickTable != nil {
			pc.Tables = append(pc.Tables, config.ProxyTable(f.Name, f.StickTable))
		}
		pc.Frontends = append(pc.Frontends, pf)
	}
	for i := range cfg.Backends {
		b := &cfg.Backends[i]
		pb, err := proxyBackend(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Source, err)
		}
		pc.Backends = append(pc.Backends, pb)
		if b.StickTable != nil {
			pc.Tables = append(pc.Tables, config.ProxyTable(b.Name, b.StickTable))
		}
	}
	return pc, nil
}

// bindAddresses lists the addresses of binds (TLS or not); the TLS
// configurations are added by tlsSet.apply.
func bindAddresses(bs []config.Bind) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Address
	}
	return out
}

func proxyBackend(b *config.Backend) (proxy.Backend, error) {
	mode, err := proxyMode(b.Mode)
	if err != nil {
		return proxy.Backend{}, err
	}
	bal, ok := proxyBalances[b.Balance]
	if !ok {
		return proxy.Backend{}, fmt.Errorf("balance %q", b.Balance)
	}
	pb := proxy.Backend{
		Name: b.Name, Mode: mode, Balance: bal, Redispatch: config.True(b.Options.Redispatch),
		ConnectTimeout: b.Timeouts.Connect, ServerTimeout: b.Timeouts.Server, QueueTimeout: b.Timeouts.Queue,
		TunnelTimeout: b.Timeouts.Tunnel, TunnelFixed: b.Timeouts.TunnelSet,
		HTTPClose: config.True(b.Options.HTTPClose), HTTPServerClose: config.True(b.Options.HTTPServerClose),
		ForwardFor: proxyForwardFor(b.Options.ForwardFor),
	}
	if b.Retries != nil {
		pb.Retries = *b.Retries
	}
	if c := b.Cookie; c != nil {
		cm, ok := proxyCookieModes[c.Mode]
		if !ok {
			return proxy.Backend{}, fmt.Errorf("cookie mode %q", c.Mode)
		}
		pb.Cookie = &proxy.Cookie{Name: c.Name, Mode: cm, Indirect: c.Indirect, NoCache: c.NoCache,
			HTTPOnly: c.HTTPOnly, Secure: c.Secure, Domain: c.Domain, Preserve: c.Preserve}
	}
	for _, s := range b.Servers {
		ps := proxy.Server{Name: s.Name, Address: s.Address, Cookie: s.Cookie, Backup: s.Backup,
			Disabled: s.Disabled, Maxconn: s.Maxconn, Maxqueue: s.Maxqueue, SendProxy: proxySendProxy(s.SendProxy)}
		if s.Weight != nil {
			ps.Weight = *s.Weight
		}
		if s.SSL.On() {
			t, err := proxyServerTLS(s.SSL)
			if err != nil {
				return proxy.Backend{}, fmt.Errorf("server %s: %w", s.Name, err)
			}
			ps.TLS = t
		}
		pb.Servers = append(pb.Servers, ps)
	}
	return pb, nil
}

// proxyServerTLS maps a server's ssl block (validated and defaulted by
// config.Load) onto the proxy's ServerTLS.
func proxyServerTLS(s *config.ServerSSL) (*proxy.ServerTLS, error) {
	kind, name, err := config.ParseSNI(s.SNI)
	if err != nil {
		return nil, err
	}
	t := &proxy.ServerTLS{Options: s.TLSOptions()}
	switch kind {
	case config.SNIFixed:
		t.SNI = proxy.SNI{From: proxy.SNIFixed, Name: name}
	case config.SNIHost:
		t.SNI = proxy.SNI{From: proxy.SNIHost}
	case config.SNIFrontend:
		t.SNI = proxy.SNI{From: proxy.SNIFrontend}
	}
	return t, nil
}

var proxyBalances = map[string]proxy.Balance{
	"roundrobin": proxy.BalanceRoundRobin, "leastconn": proxy.BalanceLeastConn,
	"source": proxy.BalanceSource, "first": proxy.BalanceFirst,
}

var proxyCookieModes = map[string]proxy.CookieMode{
	"insert": proxy.CookieInsert, "rewrite": proxy.CookieRewrite, "prefix": proxy.CookiePrefix,
}

func proxyMode(m string) (proxy.Mode, error) {
	switch m {
	case "http":
		return proxy.ModeHTTP, nil
	case "tcp":
		return proxy.ModeTCP, nil
	}
	return 0, fmt.Errorf("mode %q", m)
}

func proxyForwardFor(ff *config.ForwardFor) *proxy.ForwardFor {
	if ff == nil || ff.Disabled {
		return nil
	}
	return &proxy.ForwardFor{Header: ff.Header, Except: ff.Except, IfNone: ff.IfNone}
}

// frontendStatus maps the proxy's frontend snapshots onto what
// internal/control serves.
func frontendStatus(in []proxy.FrontendStatus) []control.FrontendStatus {
	out := make([]control.FrontendStatus, 0, len(in))
	for _, f := range in {
		out = append(out, control.FrontendStatus{
			Name: f.Name, Mode: f.Mode.String(), Binds: f.Binds, Serving: f.Serving,
			Sessions: f.Sessions, MaxSession: f.MaxSession, Limit: f.Limit, Total: f.Total,
			Requests: f.Requests, ReqRate: f.ReqRate, BytesIn: f.BytesIn, BytesOut: f.BytesOut,
			DeniedReq: f.DeniedReq, ErrorsReq: f.ErrorsReq, ProxyErrors: f.ProxyErrors, Responses: f.Responses,
			TLSHandshakes: f.TLSHandshakes, TLSFailures: f.TLSFailures,
		})
		h2 := &out[len(out)-1]
		h2.H2Streams, h2.H2StreamsCur, h2.H2Refused, h2.H2Resets, h2.H2Calm = f.H2Streams, f.H2StreamsCur, f.H2Refused, f.H2Resets, f.H2Calm
	}
	return out
}

// backendStatus maps the proxy's backend snapshots onto what
// internal/control serves; the health checker's view (check, state
// history) is added by the caller.
func backendStatus(in []proxy.BackendStatus) []control.BackendStatus {
	out := make([]control.BackendStatus, 0, len(in))
	for _, b := range in {
		cb := control.BackendStatus{
			Name: b.Name, Mode: b.Mode.String(), Balance: b.Balance.String(), Usable: b.Usable,
			Sessions: b.Sessions, MaxSession: b.MaxSession, Total: b.Total, Queue: b.Queue, MaxQueue: b.MaxQueue,
			BytesIn: b.BytesIn, BytesOut: b.BytesOut, ErrorsConn: b.ErrorsConn, ErrorsResp: b.ErrorsResp,
			Retries: b.Retries, Redispatch: b.Redispatch, Responses: b.Responses,
		}
		for _, s := range b.Servers {
			cb.Servers = append(cb.Servers, control.ServerStatus{
				Name: s.Name, Address: s.Address, State: s.State, Weight: s.Weight, Backup: s.Backup,
				Sessions: s.Sessions, MaxSession: s.MaxSession, Limit: s.Limit, Total: s.Total,
				Queue: s.Queue, MaxQueue: s.MaxQueue, BytesIn: s.BytesIn, BytesOut: s.BytesOut,
				ErrorsConn: s.ErrorsConn, ErrorsResp: s.ErrorsResp, Retries: s.Retries,
				Redispatch: s.Redispatch, Responses: s.Responses,
				TLS: s.TLS, TLSHandshakes: s.TLSHandshakes, TLSFailures: s.TLSFailures,
				TLSFailureReasons: s.TLSFailureReasons,
			})
		}
		out = append(out, cb)
	}
	return out
}
