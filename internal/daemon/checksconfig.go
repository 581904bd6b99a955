package daemon

import (
	"net"
	"strconv"
	"strings"

	"github.com/lbd-ha/lbd/checks"
	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
)

// checksConfig maps a loaded config onto the health checks' options.
// config.Load has filled every default (default_server, defaults'
// health_check and timeouts, listen sections expanded into backends) and
// validated the values, so this only copies and derives the check target.
func checksConfig(cfg *config.Config) checks.Config {
	out := checks.Config{SpreadChecks: cfg.Global.SpreadChecks}
	for _, b := range cfg.Backends {
		cb := checks.Backend{Name: b.Name, Servers: make([]checks.ServerSpec, 0, len(b.Servers))}
		for _, s := range b.Servers {
			ss := checks.ServerSpec{
				Name: s.Name, Address: s.Address, Backup: s.Backup, Disabled: s.Disabled,
				Params: checks.Params{Inter: s.Inter, FastInter: s.FastInter, DownInter: s.DownInter, Rise: s.Rise, Fall: s.Fall},
			}
			if s.Check {
				ss.Check = checkSpec(b, s, &cfg.Global)
			}
			cb.Servers = append(cb.Servers, ss)
		}
		out.Backends = append(out.Backends, cb)
	}
	return out
}

// checkSpec is the check of one server of b (g for ssl_server_verify).
func checkSpec(b config.Backend, s config.Server, g *config.Global) *checks.CheckSpec {
	c := &checks.CheckSpec{
		Addr:           checkTarget(s.Address, s.CheckAddr, s.CheckPort),
		ConnectTimeout: b.Timeouts.Connect,
		CheckTimeout:   b.Timeouts.Check,
		SendProxy:      checkSendProxy(s),
	}
	if s.ChecksOverTLS() {
		c.TLS, c.TLSOptions = true, s.CheckTLSOptions(g)
	}
	if hc := b.HealthCheck; hc != nil && hc.Type == "http" {
		c.HTTP = true
		c.Method, c.URI, c.Version, c.Host = hc.Method, hc.URI, hc.Version, hc.Host
		if e := hc.Expect; e != nil {
			c.ExpectStatus, c.ExpectRStatus, c.ExpectString = e.Status, e.RStatus, e.String
		}
	}
	return c
}

// checkTarget is HOST:PORT the checks dial: the server address with
// check_addr replacing the host and check_port the port (both validated by
// config.Load).
func checkTarget(addr, caddr string, cport int) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host = strings.Trim(addr, "[]")
	}
	if caddr != "" {
		host = strings.Trim(caddr, "[]")
	}
	if cport > 0 {
		port = strconv.Itoa(cport)
	}
	return net.JoinHostPort(host, port)
}

// fillServerStatus copies the check-owned fields of a server into what
// lbctl status serves.
func fillServerStatus(s *control.ServerStatus, si checks.ServerInfo) {
	s.State = si.State
	s.Check = checkStatus(si.Check)
	s.LastChange = si.LastChange
	s.DowntimeSec = si.Downtime.Seconds()
	s.Transitions = si.Transitions
}

func checkStatus(c checks.CheckStatus) control.CheckStatus {
	return control.CheckStatus{
		Enabled: c.Enabled, Type: c.Type, Result: string(c.Result), Code: c.Status, Reason: c.Reason, Info: c.Info,
		Duration: c.Duration, Health: c.Health, Rise: c.Rise, Fall: c.Fall, LastAt: c.LastAt,
	}
}
