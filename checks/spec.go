package checks

import (
	"crypto/tls"
	"fmt"
	"regexp"
	"time"

	"github.com/lbd-ha/lbd/certs"
)

// Config is what Manager.Apply runs: every backend with its servers. The
// Manager trusts it: lbd's config loader has already filled the defaults and
// validated names, addresses, ranges and HTTP check fields.
type Config struct {
	// SpreadChecks is the random ± percent applied to every check interval
	// (HAProxy's spread-checks), 0..50; 0: no jitter.
	SpreadChecks int
	// Backends in config order; names are unique.
	Backends []Backend
}

// Backend is one backend's servers, in config order.
type Backend struct {
	Name string
	// Servers: names are unique within the backend.
	Servers []ServerSpec
}

// ServerSpec is one server as the checks see it. A server is kept across
// Apply (state and history) while its backend, Name and Address stay the
// same.
type ServerSpec struct {
	Name string
	// Address is the traffic address HOST:PORT, shown in status.
	Address string
	// Backup servers only count as backup in the log lines' server counts.
	Backup bool
	// Disabled puts the server in MAINT (at start, or when a reload sets
	// it); clearing it on reload makes it READY.
	Disabled bool
	// Params are the check timing and thresholds; the zero fields fall back
	// as Params.WithDefaults says.
	Params Params
	// Check is the health check; nil: the server is not checked and is UP
	// health-wise for good.
	Check *CheckSpec
}

// CheckSpec is one server's health check. It is comparable: a reload that
// leaves it (and the Params) equal keeps the running checker.
type CheckSpec struct {
	// Addr is HOST:PORT the check dials (check_addr / check_port applied).
	Addr string
	// HTTP is false for a TCP connect check, true for an HTTP check with the
	// request and expectation below.
	HTTP bool
	// Method, URI and Version are the request line; Host the Host header
	// (empty: none for HTTP/1.0, Addr for HTTP/1.1). See BuildRequest.
	Method, URI, Version, Host string
	// ExpectStatus, ExpectRStatus and ExpectString are the expectation (at
	// most one set; none: any 2xx or 3xx passes). ExpectRStatus is a Go
	// regular expression matched against the status code's digits.
	ExpectStatus  int
	ExpectRStatus string
	ExpectString  string
	// ConnectTimeout is `timeout connect` and CheckTimeout `timeout check`;
	// 0: unset (see Timeouts.Split).
	ConnectTimeout, CheckTimeout time.Duration
	// SendProxy sends a PROXY protocol header of this version (1 or 2)
	// first (HAProxy's check-send-proxy, or the server's send-proxy when
	// the check goes to the traffic address); 0: none.
	SendProxy int
	// TLS runs the check over TLS (HAProxy's check-ssl, or the server's
	// ssl when the check goes to the traffic address) with TLSOptions:
	// verification, roots, and ServerName as the SNI (check-sni).
	TLS        bool
	TLSOptions certs.ClientOptions
}

// key identifies a server across Apply calls.
func serverKey(backend, name string) string { return backend + "/" + name }

// typeName is the check type shown in status: tcp or http.
func (c *CheckSpec) typeName() string {
	if c.HTTP {
		return "http"
	}
	return "tcp"
}

// checker builds the Checker for a server's check; inter is the server's
// check interval.
func (c CheckSpec) checker(inter time.Duration) (Checker, error) {
	to := Timeouts{Inter: inter, Connect: c.ConnectTimeout, Check: c.CheckTimeout}
	var tc *tls.Config
	if c.TLS {
		var err error
		if tc, err = c.TLSOptions.Config(); err != nil {
			return nil, fmt.Errorf("check-ssl: %w", err)
		}
	}
	if !c.HTTP {
		return &TCPCheck{Addr: c.Addr, Timeouts: to, SendProxy: c.SendProxy, TLS: tc}, nil
	}
	e := Expect{Status: c.ExpectStatus, String: c.ExpectString}
	if c.ExpectRStatus != "" {
		re, err := regexp.Compile(c.ExpectRStatus)
		if err != nil {
			return nil, fmt.Errorf("expect rstatus: %w", err)
		}
		e.RStatus = re
	}
	return &HTTPCheck{
		Addr:      c.Addr,
		Request:   BuildRequest(c.Method, c.URI, c.Version, c.Host, c.Addr),
		Expect:    e,
		Timeouts:  to,
		SendProxy: c.SendProxy,
		TLS:       tc,
	}, nil
}
