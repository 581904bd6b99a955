package daemon

import (
	"fmt"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/logs"
	"github.com/lbd-ha/lbd/proxy"
)

// logOptions are the access loggers' options for cfg: each frontend's
// log_format (compiled once here) and log_privacy.
func logOptions(cfg *config.Config) (logs.Options, error) {
	var opts logs.Options
	for i := range cfg.Frontends {
		f := &cfg.Frontends[i]
		var p *logs.Privacy
		if lp := f.LogPrivacy; lp != nil {
			p = &logs.Privacy{Pseudonym: lp.Mode == "pseudonym", V4Bits: lp.IPv4Prefix, V6Bits: lp.IPv6Prefix, KeepPort: lp.KeepPort}
		}
		fl, err := logs.CompileFrontendLog(f.LogFormat, p)
		if err != nil {
			return opts, fmt.Errorf("%s.log_format: %w", f.Source, err)
		}
		if fl == nil {
			continue
		}
		if opts.Frontends == nil {
			opts.Frontends = map[string]*logs.FrontendLog{}
		}
		opts.Frontends[f.Name] = fl
	}
	return opts, nil
}

// proxyAcceptProxy maps accept_proxy.
func proxyAcceptProxy(ap *config.AcceptProxy) *proxy.AcceptProxy {
	if ap == nil {
		return nil
	}
	return &proxy.AcceptProxy{From: ap.From}
}

// proxySendProxy maps send_proxy (validated: "", v1 or v2).
func proxySendProxy(v string) int {
	switch v {
	case "v1":
		return proxy.SendProxyV1
	case "v2":
		return proxy.SendProxyV2
	}
	return 0
}

// checkSendProxy is the PROXY header version a server's health checks
// send: check_send_proxy forces one (v2 when send_proxy says v2, else v1);
// without it, checks to the traffic address of a send_proxy server send
// the server's (HAProxy's rule: no check port or address set).
func checkSendProxy(s config.Server) int {
	v := proxySendProxy(s.SendProxy)
	if s.CheckSendProxy {
		return max(v, proxy.SendProxyV1)
	}
	if s.CheckPort != 0 || s.CheckAddr != "" {
		return 0
	}
	return v
}
