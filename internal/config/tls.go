package config

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/lbd-ha/lbd/certs"
)

// TLS defaults (docs/tls.md); certs holds the values.
const (
	DefaultTicketRotation = certs.DefaultTicketRotation
	DefaultTicketKeep     = certs.DefaultTicketKeep
)

// HasTLS reports whether some bind terminates TLS.
func (c *Config) HasTLS() bool {
	for i := range c.Frontends {
		for _, b := range c.Frontends[i].Bind {
			if b.SSL != nil {
				return true
			}
		}
	}
	return false
}

// resolveTLSPaths makes the certificate, default and CA paths of every TLS
// bind absolute, relative to the config file's directory.
func (c *Config) resolveTLSPaths() {
	dir := filepath.Dir(c.File)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for i := range c.Frontends {
		for j := range c.Frontends[i].Bind {
			s := c.Frontends[i].Bind[j].SSL
			if s == nil {
				continue
			}
			// Listen sections share the ssl block between their copies:
			// make a copy so that resolving is done once per frontend.
			cp := *s
			cp.Crt = make([]string, len(s.Crt))
			for k, p := range s.Crt {
				cp.Crt[k] = abs(p)
			}
			cp.DefaultCrt, cp.CAFile = abs(s.DefaultCrt), abs(s.CAFile)
			c.Frontends[i].Bind[j].SSL = &cp
		}
	}
	if t := c.Global.TLSTickets; t != nil {
		if t.Rotate == 0 {
			t.Rotate = DefaultTicketRotation
		}
		if t.Keep == nil {
			k := DefaultTicketKeep
			t.Keep = &k
		}
	}
}

// CertOptions is the certs.Options of a TLS bind (paths already resolved
// by Load).
func (s *BindSSL) CertOptions() certs.Options {
	return certs.Options{Crt: append([]string(nil), s.Crt...), Default: s.DefaultCrt, StrictSNI: s.StrictSNI}
}

// BindCertOptions is CertOptions with the ACME certificate directory
// allowed to be empty: with tls.acme set, a bind whose crt lists that
// directory (state_dir/acme/certs) loads while the first certificate is
// not there yet, and serves it from the reload that follows its arrival.
func (cfg *Config) BindCertOptions(s *BindSSL) certs.Options {
	o := s.CertOptions()
	if dir := cfg.acmeCertDir(); dir != "" {
		for _, p := range s.Crt {
			if filepath.Clean(p) == dir {
				o.AllowEmpty = []string{dir}
				break
			}
		}
	}
	return o
}

// ServerOptions is the certs.ServerOptions of a TLS bind with the global
// defaults applied (TicketKeys left for the caller). Versions that do not
// parse are reported by Load; here they are left at the default.
func (s *BindSSL) ServerOptions(def *SSLDefaultBind) certs.ServerOptions {
	o := certs.ServerOptions{Ciphers: s.Ciphers, ALPN: append([]string(nil), s.ALPN...), CAFile: s.CAFile, Verify: s.Verify}
	var opts []string
	if def != nil {
		if o.Ciphers == "" {
			o.Ciphers = def.Ciphers
		}
		opts = append(opts, def.Options...)
	}
	o.Options = strings.Join(append(opts, s.Options...), " ")
	if v, err := certs.ParseVersion(s.MinVersion); err == nil && s.MinVersion != "" {
		o.MinVersion = v
	}
	if v, err := certs.ParseVersion(s.MaxVersion); err == nil && s.MaxVersion != "" {
		o.MaxVersion = v
	}
	return o
}

// checkBindSSL loads the certificates of a TLS bind and builds its TLS
// configuration once, reporting every error at the key it comes from.
func (c *checker) checkBindSSL(cfg *Config, p string, s *BindSSL, def *SSLDefaultBind) {
	if len(s.Crt) == 0 {
		c.add(p+".crt", "a TLS bind needs at least one certificate file or directory")
		return
	}
	for _, key := range []struct{ name, v string }{{"min_version", s.MinVersion}, {"max_version", s.MaxVersion}} {
		if key.v == "" {
			continue
		}
		v, err := certs.ParseVersion(key.v)
		switch {
		case err != nil:
			c.add(p+"."+key.name, "%v", err)
		case v < tls.VersionTLS12:
			c.add(p+"."+key.name, "%s refused: lbd serves TLSv1.2 and TLSv1.3 only", key.v)
			return
		}
	}
	for k, a := range s.ALPN {
		if a != "h2" && a != "http/1.1" {
			c.add(fmt.Sprintf("%s.alpn[%d]", p, k), "unknown protocol %q (h2, http/1.1)", a)
		}
	}
	switch s.Verify {
	case "", "none", "optional", "required":
	default:
		c.add(p+".verify", "unknown verify %q (none, optional, required)", s.Verify)
	}
	store, warns, err := certs.New(cfg.BindCertOptions(s))
	for _, w := range warns {
		if w.Empty {
			path := p + ".crt"
			for k, f := range s.Crt {
				if filepath.Clean(f) == filepath.Clean(w.File) {
					path = fmt.Sprintf("%s.crt[%d]", p, k)
					break
				}
			}
			until := "until the first certificate arrives, handshakes on this bind fail (no_certificate)"
			if store != nil && len(store.Info()) > 0 {
				until = "until then the bind serves its other certificates"
			}
			c.warn(path, "no certificate yet in %s: ACME will obtain it (tls.acme); %s", w.File, until)
			continue
		}
		c.warn(p+".crt", "%s", w.String())
	}
	if err != nil {
		path := p + ".crt"
		for k, f := range s.Crt {
			if strings.Contains(err.Error(), f) {
				path = fmt.Sprintf("%s.crt[%d]", p, k)
				break
			}
		}
		if s.DefaultCrt != "" && strings.Contains(err.Error(), "default") {
			path = p + ".default_crt"
		}
		c.add(path, "%v", err)
		return
	}
	_, cwarns, err := s.ServerOptions(def).Config(store)
	for _, w := range cwarns {
		c.warn(p, "%s", w)
	}
	if err != nil {
		c.add(p, "%v", err)
	}
}

// checkTLSGlobal checks global.ssl_default_bind and global.tls_tickets.
func (c *checker) checkTLSGlobal(g *Global) {
	if d := g.SSLDefaultBind; d != nil {
		if d.Ciphers != "" {
			if _, _, err := certs.ParseCiphers(d.Ciphers); err != nil {
				c.add("global.ssl_default_bind.ciphers", "%v", err)
			}
		}
		if len(d.Options) > 0 {
			o := certs.ServerOptions{Options: strings.Join(d.Options, " ")}
			if _, _, err := o.Config(&certs.Store{}); err != nil {
				c.add("global.ssl_default_bind.options", "%v", err)
			}
		}
	}
	if t := g.TLSTickets; t != nil {
		if t.Rotate < time.Minute {
			c.add("global.tls_tickets.rotate", "must be at least 1m")
		}
		if t.Keep != nil && (*t.Keep < 0 || *t.Keep > 16) {
			c.add("global.tls_tickets.keep", "must be 0..16")
		}
	}
}

// UnmarshalYAML accepts a bind written as a string (plain TCP) or as a
// mapping (address and ssl), for decoders that read lbd.yaml with
// yaml.v3 directly (Load uses a decode hook instead).
func (b *Bind) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*b = Bind{Address: n.Value}
		return nil
	}
	type plain Bind
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*b = Bind(p)
	return nil
}

// MarshalYAML writes a plain bind as a string.
func (b Bind) MarshalYAML() (any, error) {
	if b.SSL == nil {
		return b.Address, nil
	}
	type plain Bind
	return plain(b), nil
}
