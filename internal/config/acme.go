package config

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ACME defaults.
const (
	// DefaultACMEDirectory is Let's Encrypt's production directory.
	DefaultACMEDirectory = "https://acme-v02.api.letsencrypt.org/directory"
	// ACMEStagingDirectory is Let's Encrypt's staging directory
	// (`directory: staging` is a shorthand for it).
	ACMEStagingDirectory = "https://acme-staging-v02.api.letsencrypt.org/directory"
	DefaultACMEKeyType   = "ecdsa-p256"
	DefaultACMELockTTL   = time.Minute
	// ACMEChallengeBackend is the internal backend every HTTP frontend
	// routes /.well-known/acme-challenge/ to when tls.acme is set.
	ACMEChallengeBackend = "lbd-acme-challenge"
)

// TLS is the root `tls` section: settings that are not a bind's.
type TLS struct {
	// ACME obtains and renews certificates (docs/tls.md "ACME"); nil: off.
	ACME *ACME `mapstructure:"acme" yaml:"acme,omitempty"`
}

// ACME is the `tls.acme` section. The certificates it obtains are written
// as PEM files to state_dir/acme/certs, which a TLS bind lists in its crt.
type ACME struct {
	// Email is the ACME account's contact address.
	Email string `mapstructure:"email" yaml:"email,omitempty"`
	// Directory is the CA's RFC 8555 directory URL; default Let's
	// Encrypt's production; "staging" is Let's Encrypt's staging.
	Directory string `mapstructure:"directory" yaml:"directory,omitempty"`
	// CA is a PEM file of root certificates trusted for the directory
	// (a private CA); empty: the system's.
	CA string `mapstructure:"ca" yaml:"ca,omitempty"`
	// Certificates lists the certificates: each a list of domain names,
	// the first names the certificate.
	Certificates [][]string `mapstructure:"certificates" yaml:"certificates"`
	// KeyType of the certificates' keys: ecdsa-p256 (default) or rsa2048.
	KeyType string `mapstructure:"key_type" yaml:"key_type,omitempty"`
	// Challenges the CA may use: http-01 (the default; answered on the
	// HTTP frontends) and tls-alpn-01 (answered on the TLS binds).
	Challenges []string `mapstructure:"challenges" yaml:"challenges,omitempty"`
	// EAB is the External Account Binding some CAs require.
	EAB *ACMEEAB `mapstructure:"eab" yaml:"eab,omitempty"`
	// StateDir holds acme/ (the replicated store and the certificate
	// files); default pair.state_dir, else /var/lib/lbd.
	StateDir string `mapstructure:"state_dir" yaml:"state_dir,omitempty"`
	// LockTTL is the lease of the pair-wide order lock (default 1m): a
	// node that dies while ordering blocks the other at most this long.
	LockTTL time.Duration `mapstructure:"lock_ttl" yaml:"lock_ttl,omitempty"`
}

// ACMEEAB is an External Account Binding: the key id and the base64url
// HMAC key the CA gave.
type ACMEEAB struct {
	KeyID   string `mapstructure:"key_id" yaml:"key_id"`
	HMACKey string `mapstructure:"hmac_key" yaml:"hmac_key"`
}

// checkACME fills the tls.acme section's defaults and checks it.
func (c *checker) checkACME(cfg *Config) {
	if cfg.TLS == nil || cfg.TLS.ACME == nil {
		return
	}
	a := cfg.TLS.ACME
	switch a.Directory {
	case "":
		a.Directory = DefaultACMEDirectory
	case "staging":
		a.Directory = ACMEStagingDirectory
	}
	if u, err := url.Parse(a.Directory); err != nil || u.Scheme != "https" || u.Host == "" {
		c.add("tls.acme.directory", "must be an https:// URL of an ACME directory (or staging), not %q", a.Directory)
	}
	if a.Email != "" && (!strings.Contains(a.Email, "@") || strings.ContainsAny(a.Email, " \t<>")) {
		c.add("tls.acme.email", "%q is not an email address", a.Email)
	}
	if a.CA != "" {
		if !strings.HasPrefix(a.CA, "/") {
			c.add("tls.acme.ca", "must be an absolute path")
		} else if _, err := os.Stat(a.CA); err != nil {
			c.add("tls.acme.ca", "%v", err)
		}
	}
	a.KeyType = firstStr(a.KeyType, DefaultACMEKeyType)
	if a.KeyType != "ecdsa-p256" && a.KeyType != "rsa2048" {
		c.add("tls.acme.key_type", "must be ecdsa-p256 or rsa2048, not %q", a.KeyType)
	}
	if len(a.Challenges) == 0 {
		a.Challenges = []string{"http-01"}
	}
	for _, ch := range a.Challenges {
		switch ch {
		case "http-01", "tls-alpn-01":
		default:
			c.add("tls.acme.challenges", "%q is not http-01 or tls-alpn-01", ch)
		}
	}
	if len(a.Certificates) == 0 {
		c.add("tls.acme.certificates", "list at least one certificate (a list of domain names)")
	}
	seen := map[string]bool{}
	for _, names := range a.Certificates {
		if len(names) == 0 {
			c.add("tls.acme.certificates", "a certificate with no domain name")
		}
		for _, n := range names {
			if !validDomain(n) {
				c.add("tls.acme.certificates", "%q is not a domain name", n)
			}
			if seen[strings.ToLower(n)] {
				c.add("tls.acme.certificates", "%q is in two certificates", n)
			}
			seen[strings.ToLower(n)] = true
		}
	}
	for _, b := range cfg.Backends {
		if b.Name == ACMEChallengeBackend {
			c.add("tls.acme", "backend name %q is lbd's own with tls.acme (HTTP-01 answers): rename the backend", b.Name)
		}
	}
	if a.EAB != nil && (a.EAB.KeyID == "" || a.EAB.HMACKey == "") {
		c.add("tls.acme.eab", "needs both key_id and hmac_key")
	}
	if a.StateDir == "" {
		a.StateDir = DefaultPairStateDir
		if cfg.Pair != nil && cfg.Pair.StateDir != "" {
			a.StateDir = cfg.Pair.StateDir
		}
	}
	if !strings.HasPrefix(a.StateDir, "/") {
		c.add("tls.acme.state_dir", "must be an absolute path")
	}
	if a.LockTTL == 0 {
		a.LockTTL = DefaultACMELockTTL
	}
	if a.LockTTL < time.Second || a.LockTTL > time.Hour {
		c.add("tls.acme.lock_ttl", "must be 1s..1h")
	}
}

// ACMECertDir is the directory where the ACME engine writes one PEM file
// per certificate (state_dir/acme/certs), the directory a TLS bind lists
// in its crt to serve them.
func ACMECertDir(stateDir string) string {
	return filepath.Join(stateDir, "acme", "certs")
}

// acmeCertDir is ACMECertDir of tls.acme's state_dir with its default
// applied as checkACME does; "" without tls.acme.
func (cfg *Config) acmeCertDir() string {
	if cfg.TLS == nil || cfg.TLS.ACME == nil {
		return ""
	}
	dir := cfg.TLS.ACME.StateDir
	if dir == "" {
		dir = DefaultPairStateDir
		if cfg.Pair != nil && cfg.Pair.StateDir != "" {
			dir = cfg.Pair.StateDir
		}
	}
	if !filepath.IsAbs(dir) {
		return ""
	}
	return ACMECertDir(dir)
}

// validDomain accepts a DNS name, optionally with one leading "*." (a
// wildcard needs DNS-01, which lbd does not do: refused).
func validDomain(n string) bool {
	if n == "" || len(n) > 253 || strings.HasPrefix(n, "*") || !strings.Contains(n, ".") {
		return false
	}
	for _, label := range strings.Split(n, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// HasChallenge reports whether the CA may use challenge ch ("http-01",
// "tls-alpn-01"); an empty list means http-01 only.
func (a *ACME) HasChallenge(ch string) bool {
	if a == nil {
		return false
	}
	if len(a.Challenges) == 0 {
		return ch == "http-01"
	}
	return slices.Contains(a.Challenges, ch)
}
