package config

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/lbd-ha/lbd/certs"
)

// mergeServerSSL is a server's ssl block over default_server's, key by
// key; always a fresh copy (listen sections and default_server share
// theirs).
func mergeServerSSL(s, d *ServerSSL) *ServerSSL {
	if s == nil && d == nil {
		return nil
	}
	var out ServerSSL
	if d != nil {
		out = *d
	}
	if s != nil {
		out.Verify = firstStr(s.Verify, out.Verify)
		out.CAFile = firstStr(s.CAFile, out.CAFile)
		out.SNI = firstStr(s.SNI, out.SNI)
		out.VerifyHost = firstStr(s.VerifyHost, out.VerifyHost)
		out.Crt = firstStr(s.Crt, out.Crt)
		if s.Enabled != nil {
			out.Enabled = s.Enabled
		}
	}
	if out.Enabled != nil {
		out.Enabled = boolp(*out.Enabled)
	}
	return &out
}

// On reports whether the server is spoken to over TLS: it has an ssl
// block whose enabled is not false. Every user of a server's ssl block
// asks this, not s != nil.
func (s *ServerSSL) On() bool {
	return s != nil && (s.Enabled == nil || *s.Enabled)
}

// serverSSLDefaults applies global.ssl_server_verify to the ssl blocks
// without a verify and makes their paths absolute (relative to the config
// file's directory).
func (c *Config) serverSSLDefaults() {
	def := firstStr(c.Global.SSLServerVerify, DefaultSSLServerVerify)
	dir := filepath.Dir(c.File)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for i := range c.Backends {
		for j := range c.Backends[i].Servers {
			s := &c.Backends[i].Servers[j]
			if s.SSL == nil {
				continue
			}
			cp := *s.SSL
			cp.Verify = firstStr(cp.Verify, def)
			cp.CAFile, cp.Crt = abs(cp.CAFile), abs(cp.Crt)
			s.SSL = &cp
		}
	}
}

// SNIKind is where the SNI sent to a server comes from.
type SNIKind uint8

// The supported sni expressions.
const (
	SNINone     SNIKind = iota // no sni
	SNIFixed                   // str(NAME)
	SNIHost                    // req.hdr(host): the Host header, port removed
	SNIFrontend                // ssl_fc_sni: the client's SNI
)

// ParseSNI parses HAProxy's `sni EXPR` in the forms lbd supports:
// str(NAME), req.hdr(host) (hdr(host) too), ssl_fc_sni. It returns the
// kind and, for str(), the name.
func ParseSNI(expr string) (SNIKind, string, error) {
	e := strings.TrimSpace(expr)
	if e == "" {
		return SNINone, "", nil
	}
	low := strings.ToLower(e)
	switch low {
	case "req.hdr(host)", "hdr(host)", "req.fhdr(host)":
		return SNIHost, "", nil
	case "ssl_fc_sni":
		return SNIFrontend, "", nil
	}
	if strings.HasPrefix(low, "str(") && strings.HasSuffix(e, ")") {
		name := e[len("str(") : len(e)-1]
		if err := checkHostName(name); err != nil {
			return 0, "", fmt.Errorf("sni %q: %w", expr, err)
		}
		return SNIFixed, name, nil
	}
	return 0, "", fmt.Errorf("unsupported sni expression %q (lbd takes str(NAME), req.hdr(host), ssl_fc_sni)", expr)
}

// checkHostName accepts a DNS name as SNI carries it: letters, digits,
// '-', '_', '.', labels of 1..63 bytes, at most 253 bytes in all.
func checkHostName(n string) error {
	if n == "" || len(n) > 253 {
		return fmt.Errorf("a server name needs 1..253 characters")
	}
	for _, label := range strings.Split(strings.TrimSuffix(n, "."), ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("bad label in server name %q", n)
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
				return fmt.Errorf("character %q not allowed in server name %q", b, n)
			}
		}
	}
	return nil
}

// TLSOptions is the certs.ClientOptions of a server's ssl block (nil:
// the zero value), ServerName left empty.
func (s *ServerSSL) TLSOptions() certs.ClientOptions {
	if s == nil {
		return certs.ClientOptions{Verify: true}
	}
	return certs.ClientOptions{Verify: s.Verify != "none", CAFile: s.CAFile, CertFile: s.Crt, VerifyHost: s.VerifyHost}
}

// ChecksOverTLS reports whether the server's health checks use TLS:
// check_ssl, else the server's ssl when the checks go to its traffic
// address (HAProxy reuses the server's transport only there).
func (s *Server) ChecksOverTLS() bool {
	if s.CheckSSL != nil {
		return *s.CheckSSL
	}
	return s.SSL.On() && s.CheckPort == 0 && s.CheckAddr == ""
}

// CheckTLSOptions are the TLS settings of the server's checks: the ssl
// block's verification (global.ssl_server_verify when the server has
// none), check_sni as the name.
func (s *Server) CheckTLSOptions(global *Global) certs.ClientOptions {
	o := s.SSL.TLSOptions()
	if s.SSL == nil {
		o.Verify = firstStr(global.SSLServerVerify, DefaultSSLServerVerify) != "none"
	}
	o.ServerName = s.CheckSNI
	return o
}

// checkServerSSL validates a server's ssl block and check_sni at sp.
func (c *checker) checkServerSSL(sp, mode string, s *Server) {
	if s.CheckSNI != "" {
		if err := checkHostName(s.CheckSNI); err != nil {
			c.add(sp+".check_sni", "%v", err)
		}
	}
	ss := s.SSL
	if ss == nil {
		return
	}
	p := sp + ".ssl"
	if ss.Verify != "none" && ss.Verify != "required" {
		c.add(p+".verify", "unknown verify %q (none, required)", ss.Verify)
	}
	if ss.CAFile != "" {
		if _, err := certs.LoadCAFile(ss.CAFile); err != nil {
			c.add(p+".ca_file", "%v", err)
		}
	}
	if ss.Crt != "" {
		if _, err := (certs.ClientOptions{CertFile: ss.Crt}).Config(); err != nil {
			c.add(p+".crt", "%v", err)
		}
	}
	kind, _, err := ParseSNI(ss.SNI)
	if err != nil {
		c.add(p+".sni", "%v", err)
	} else if mode == "tcp" && ss.On() && (kind == SNIHost || kind == SNIFrontend) {
		c.add(p+".sni", "sni %s needs mode http (mode tcp has no request; use str(NAME))", ss.SNI)
	}
	if ss.VerifyHost != "" {
		if err := checkHostName(ss.VerifyHost); err != nil {
			c.add(p+".verify_host", "%v", err)
		}
	}
	if ss.Verify == "none" && ss.CAFile != "" {
		c.warn(p+".ca_file", "ignored with verify none")
	}
	if ss.Verify == "none" && ss.VerifyHost != "" {
		c.warn(p+".verify_host", "ignored with verify none")
	}
}
