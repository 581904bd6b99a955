package checks

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
)

// serverSpec is one server as the config asks for it.
type serverSpec struct {
	backend, name, addr string
	backup, disabled    bool
	checked             bool
	params              Params
	check               checkSpec
}

// checkSpec is everything that shapes the Checker; comparable, so Apply can
// tell whether a kept server's checker must be rebuilt.
type checkSpec struct {
	typ                        string // tcp or http
	target                     string // host:port dialed
	method, uri, version, host string
	expStatus                  int
	expRStatus, expString      string
	timeouts                   Timeouts
}

func (s serverSpec) key() string { return s.backend + "/" + s.name }

func firstDur(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d > 0 {
			return d
		}
	}
	return 0
}

func firstInt(ns ...int) int {
	for _, n := range ns {
		if n > 0 {
			return n
		}
	}
	return 0
}

// buildSpecs resolves every server of cfg (defaults included) and validates
// what the checks need. It changes nothing.
func buildSpecs(cfg *config.Config) ([]serverSpec, error) {
	var (
		out  []serverSpec
		errs []error
	)
	var ds config.ServerDefaults
	if cfg.Defaults.DefaultServer != nil {
		ds = *cfg.Defaults.DefaultServer
	}
	seenBE := map[string]bool{}
	for _, b := range cfg.Backends {
		if seenBE[b.Name] {
			errs = append(errs, fmt.Errorf("backend %q defined twice", b.Name))
			continue
		}
		seenBE[b.Name] = true
		hc := b.HealthCheck
		if hc == nil {
			hc = cfg.Defaults.HealthCheck
		}
		if hc == nil {
			hc = &config.HealthCheck{}
		}
		base, err := checkBase(hc)
		if err != nil {
			errs = append(errs, fmt.Errorf("backend %s: health_check: %w", b.Name, err))
			continue
		}
		to := Timeouts{
			Connect: firstDur(b.Timeouts.Connect, b.Timeouts.Contimeout, cfg.Defaults.Timeouts.Connect, cfg.Defaults.Timeouts.Contimeout),
			Check:   firstDur(b.Timeouts.Check, cfg.Defaults.Timeouts.Check),
		}
		seen := map[string]bool{}
		for _, s := range b.Servers {
			if s.Name == "" || seen[s.Name] {
				errs = append(errs, fmt.Errorf("backend %s: server name %q empty or duplicated", b.Name, s.Name))
				continue
			}
			seen[s.Name] = true
			sp, err := serverOf(b.Name, s, ds, base, to)
			if err != nil {
				errs = append(errs, fmt.Errorf("backend %s: server %s: %w", b.Name, s.Name, err))
				continue
			}
			out = append(out, sp)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("checks: %w", err)
	}
	return out, nil
}

// checkBase validates the backend's health_check block.
func checkBase(hc *config.HealthCheck) (checkSpec, error) {
	c := checkSpec{typ: strings.ToLower(hc.Type)}
	switch c.typ {
	case "", "tcp":
		c.typ = "tcp"
		return c, nil
	case "http", "httpchk":
		c.typ = "http"
	default:
		return c, fmt.Errorf("unknown type %q (want tcp or http)", hc.Type)
	}
	c.method, c.uri, c.version, c.host = hc.Method, hc.URI, hc.Version, hc.Host
	if c.method == "" {
		c.method = "OPTIONS"
	}
	if c.uri == "" {
		c.uri = "/"
	}
	if c.version == "" {
		c.version = "HTTP/1.0"
	}
	if !token(c.method) {
		return c, fmt.Errorf("method %q is not an HTTP token", c.method)
	}
	if len(c.uri) > 4096 || strings.ContainsAny(c.uri, " \t\r\n") || !printable(c.uri) {
		return c, fmt.Errorf("uri %q has spaces or control characters", c.uri)
	}
	if c.version != "HTTP/1.0" && c.version != "HTTP/1.1" {
		return c, fmt.Errorf("version %q (want HTTP/1.0 or HTTP/1.1)", c.version)
	}
	if len(c.host) > 1024 || strings.ContainsAny(c.host, " \t\r\n") || !printable(c.host) {
		return c, fmt.Errorf("host %q has spaces or control characters", c.host)
	}
	if e := hc.Expect; e != nil {
		n := 0
		if e.Status != 0 {
			n++
			if e.Status < 100 || e.Status > 999 {
				return c, fmt.Errorf("expect status %d out of range", e.Status)
			}
		}
		if e.RStatus != "" {
			n++
			if _, err := regexp.Compile(e.RStatus); err != nil {
				return c, fmt.Errorf("expect rstatus: %w", err)
			}
		}
		if e.String != "" {
			n++
			if len(e.String) > MaxResponse/2 {
				return c, errors.New("expect string longer than 8 KB")
			}
		}
		if n > 1 {
			return c, errors.New("expect takes one of status, rstatus or string")
		}
		c.expStatus, c.expRStatus, c.expString = e.Status, e.RStatus, e.String
	}
	return c, nil
}

func token(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for _, c := range []byte(s) {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func serverOf(backend string, s config.Server, ds config.ServerDefaults, base checkSpec, to Timeouts) (serverSpec, error) {
	sp := serverSpec{
		backend: backend, name: s.Name, addr: s.Address,
		backup: s.Backup, disabled: s.Disabled, checked: s.Check,
		params: Params{
			Inter:     firstDur(s.Inter, ds.Inter),
			FastInter: firstDur(s.FastInter, ds.FastInter),
			DownInter: firstDur(s.DownInter, ds.DownInter),
			Rise:      firstInt(s.Rise, ds.Rise),
			Fall:      firstInt(s.Fall, ds.Fall),
		}.WithDefaults(),
	}
	if s.Inter < 0 || s.FastInter < 0 || s.DownInter < 0 || s.Rise < 0 || s.Fall < 0 {
		return sp, errors.New("negative inter, fastinter, downinter, rise or fall")
	}
	if !s.Check {
		return sp, nil
	}
	target, err := checkTarget(s.Address, s.CheckAddr, s.CheckPort)
	if err != nil {
		return sp, err
	}
	sp.check = base
	sp.check.target = target
	sp.check.timeouts = to
	sp.check.timeouts.Inter = sp.params.Inter
	return sp, nil
}

// checkTarget is host:port the checks dial: the server address, with
// check_addr replacing the host and check_port the port.
func checkTarget(addr, caddr string, cport int) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		if cport == 0 {
			return "", fmt.Errorf("address %q: %w", addr, err)
		}
		host, port = strings.Trim(addr, "[]"), ""
	}
	if caddr != "" {
		host = caddr
		if h, p, err := net.SplitHostPort(caddr); err == nil {
			host, port = h, p
		}
		host = strings.Trim(host, "[]")
	}
	if cport < 0 || cport > 65535 {
		return "", fmt.Errorf("check_port %d out of range", cport)
	}
	if cport > 0 {
		port = strconv.Itoa(cport)
	}
	if host == "" || port == "" {
		return "", fmt.Errorf("no host or port to check in %q", addr)
	}
	return net.JoinHostPort(host, port), nil
}

// checker builds the Checker for a spec.
func (c checkSpec) checker() Checker {
	if c.typ != "http" {
		return &TCPCheck{Addr: c.target, Timeouts: c.timeouts}
	}
	e := Expect{Status: c.expStatus, String: c.expString}
	if c.expRStatus != "" {
		e.RStatus = regexp.MustCompile(c.expRStatus) // validated in checkBase
	}
	return &HTTPCheck{
		Addr:     c.target,
		Request:  BuildRequest(c.method, c.uri, c.version, c.host, c.target),
		Expect:   e,
		Timeouts: c.timeouts,
	}
}
