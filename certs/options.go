package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// DefaultCiphers is the TLS 1.2 cipher list used when ServerOptions.Ciphers
// is empty: the ECDHE suites of Mozilla's "intermediate" configuration
// (Server Side TLS guidelines, https://wiki.mozilla.org/Security/Server_Side_TLS,
// generator https://ssl-config.mozilla.org/, guideline version 5.7). Its
// DHE-RSA suites are left out because crypto/tls has no finite-field DHE.
// TLS 1.3 always uses crypto/tls's three suites (AES-128-GCM, AES-256-GCM,
// ChaCha20-Poly1305), which are also Mozilla's.
const DefaultCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" +
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" +
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

// openSSLSuites maps OpenSSL's names (what ssl-default-bind-ciphers takes)
// to the TLS 1.2 suites crypto/tls implements.
var openSSLSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	"AES128-GCM-SHA256":             tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	"AES256-GCM-SHA384":             tls.TLS_RSA_WITH_AES_256_GCM_SHA384,
	"AES128-SHA":                    tls.TLS_RSA_WITH_AES_128_CBC_SHA,
	"AES256-SHA":                    tls.TLS_RSA_WITH_AES_256_CBC_SHA,
}

// insecureSuites are OpenSSL names crypto/tls knows but lbd refuses.
var insecureSuites = map[string]string{
	"ECDHE-ECDSA-AES128-SHA256": "CBC with SHA-256 (Lucky13-prone)",
	"ECDHE-RSA-AES128-SHA256":   "CBC with SHA-256 (Lucky13-prone)",
	"AES128-SHA256":             "CBC with SHA-256 (Lucky13-prone)",
	"DES-CBC3-SHA":              "3DES (Sweet32)",
	"ECDHE-RSA-DES-CBC3-SHA":    "3DES (Sweet32)",
	"RC4-SHA":                   "RC4",
	"ECDHE-RSA-RC4-SHA":         "RC4",
	"ECDHE-ECDSA-RC4-SHA":       "RC4",
}

// ParseCiphers parses an OpenSSL cipher list as HAProxy's ciphers and
// ssl-default-bind-ciphers take it: suite names separated by ':' (or ','
// or spaces). "!NAME" and "-NAME" remove a suite listed before. Names of
// suites crypto/tls does not implement but that are harmless to skip
// (finite-field DHE, as in Mozilla's lists) come back as warnings; any
// other unknown name, an OpenSSL keyword (HIGH, DEFAULT, @STRENGTH, ...),
// a TLS 1.3 suite name or an insecure suite is an error. The order is
// kept, but crypto/tls picks among the allowed suites by its own
// preference (it ignores the order since Go 1.17).
func ParseCiphers(s string) ([]uint16, []string, error) {
	var out []uint16
	var warns []string
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ',' || r == ' ' || r == '\t' })
	for _, f := range fields {
		remove := false
		name := f
		if strings.HasPrefix(f, "!") || strings.HasPrefix(f, "-") {
			remove, name = true, f[1:]
		}
		if id, ok := openSSLSuites[name]; ok {
			if remove {
				out = removeSuite(out, id)
			} else if !containsSuite(out, id) {
				out = append(out, id)
			}
			continue
		}
		switch {
		case remove && (isOpenSSLKeyword(name) || insecureSuites[name] != "" || isSkippable(name)):
			// Removing what is never offered changes nothing ("!aNULL").
			continue
		case insecureSuites[name] != "":
			return nil, nil, fmt.Errorf("cipher %q: refused, %s is insecure", f, insecureSuites[name])
		case strings.HasPrefix(name, "TLS_"):
			return nil, nil, fmt.Errorf("cipher %q: a TLS 1.3 suite; TLS 1.3 suites are not configurable (crypto/tls always uses its three AEAD suites)", f)
		case isOpenSSLKeyword(name):
			return nil, nil, fmt.Errorf("cipher %q: OpenSSL keywords and aliases are not supported; list the suites by name (e.g. %s)", f, strings.SplitN(DefaultCiphers, ":", 2)[0])
		case isSkippable(name):
			warns = append(warns, fmt.Sprintf("cipher %q skipped: crypto/tls has no finite-field DHE suites", f))
		default:
			return nil, nil, fmt.Errorf("cipher %q: unknown cipher suite name", f)
		}
	}
	if len(out) == 0 {
		return nil, warns, errors.New("cipher list leaves no TLS 1.2 suite")
	}
	return out, warns, nil
}

func isSkippable(name string) bool {
	return strings.HasPrefix(name, "DHE-") || strings.HasPrefix(name, "EDH-")
}

func isOpenSSLKeyword(name string) bool {
	if name == "" || strings.HasPrefix(name, "@") || strings.Contains(name, "+") {
		return true
	}
	switch strings.ToUpper(name) {
	case "ALL", "DEFAULT", "COMPLEMENTOFALL", "COMPLEMENTOFDEFAULT", "HIGH", "MEDIUM", "LOW",
		"ANULL", "ENULL", "NULL", "MD5", "SHA1", "SHA", "SHA256", "SHA384", "EXPORT", "EXP", "RC4", "DES", "3DES",
		"PSK", "SRP", "DSS", "ADH", "AECDH", "KRSA", "RSA", "ECDHE", "EECDH", "EDH", "DHE", "AESGCM", "AES",
		"CHACHA20", "CAMELLIA", "ARIA", "SEED", "IDEA", "ECDSA", "AECDSA", "ARSA", "KEECDH", "KEDH":
		return true
	}
	return false
}

func containsSuite(s []uint16, id uint16) bool {
	for _, x := range s {
		if x == id {
			return true
		}
	}
	return false
}

func removeSuite(s []uint16, id uint16) []uint16 {
	out := s[:0]
	for _, x := range s {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

// ParseVersion parses HAProxy's version names for ssl-min-ver/ssl-max-ver
// (SSLv3, TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3).
func ParseVersion(s string) (uint16, error) {
	switch s {
	case "SSLv3":
		return 0x0300, nil // named only to refuse it
	case "TLSv1.0", "TLSv1":
		return tls.VersionTLS10, nil
	case "TLSv1.1":
		return tls.VersionTLS11, nil
	case "TLSv1.2":
		return tls.VersionTLS12, nil
	case "TLSv1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("unknown TLS version %q (want TLSv1.2 or TLSv1.3)", s)
}

// VersionName is the HAProxy/OpenSSL name of a TLS version ("TLSv1.3").
func VersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "TLSv1"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// ServerOptions is the TLS side of a bind. The zero value is valid: TLS
// 1.2 and 1.3, DefaultCiphers, no ALPN, no client certificate, session
// tickets with crypto/tls's own key rotation.
type ServerOptions struct {
	// MinVersion and MaxVersion bound the protocol versions; 0 means
	// tls.VersionTLS12 and tls.VersionTLS13. Anything below TLS 1.2 is
	// refused with an error.
	MinVersion, MaxVersion uint16
	// Ciphers is the TLS 1.2 cipher list in ssl-default-bind-ciphers
	// syntax (see ParseCiphers); "" means DefaultCiphers.
	Ciphers string
	// Options holds ssl-default-bind-options words: no-sslv3, no-tlsv10,
	// no-tlsv11 (no effect: refused anyway), no-tlsv12, no-tlsv13,
	// force-tlsv12, force-tlsv13, ssl-min-ver V, ssl-max-ver V,
	// no-tls-tickets, prefer-client-ciphers (no effect: crypto/tls picks
	// by its own preference). Anything else is an error.
	Options string
	// ALPN lists the protocols offered by ALPN in preference order
	// (HAProxy's "alpn h2,http/1.1"); empty means no ALPN.
	ALPN []string
	// CAFile is the PEM file of the CAs that sign client certificates
	// (HAProxy's ca-file); required by Verify optional or required.
	CAFile string
	// Verify is HAProxy's verify for binds: "" or "none" (no client
	// certificate is asked for), "optional" (asked for, verified when
	// given) or "required".
	Verify string
	// TicketKeys, when set, supplies the session ticket keys (shared
	// across reloads and, later, with the pair node). nil leaves
	// crypto/tls's own keys, which are new for every tls.Config.
	TicketKeys *TicketKeys
	// DisableTickets turns session tickets off (also "no-tls-tickets").
	DisableTickets bool
	// Challenge, when set, answers ACME TLS-ALPN-01 (RFC 8737): the bind
	// also offers ALPN ACMETLS1, and a ClientHello that offers only
	// ACMETLS1 gets the certificate Challenge returns (ok true) instead of
	// the store's. The handshake's user closes such a connection once the
	// handshake is done.
	Challenge func(*tls.ClientHelloInfo) (*tls.Certificate, bool)
}

// ACMETLS1 is the ALPN protocol of ACME TLS-ALPN-01 validation (RFC 8737).
const ACMETLS1 = "acme-tls/1"

// isACMETLS1 reports whether hello is a TLS-ALPN-01 validation: it offers
// ACMETLS1 and nothing else (RFC 8737 section 3).
func isACMETLS1(h *tls.ClientHelloInfo) bool {
	return len(h.SupportedProtos) == 1 && h.SupportedProtos[0] == ACMETLS1
}

// Config builds the tls.Config of a bind serving store's certificates.
// It returns warnings (skipped cipher names) separately from the error.
// Leave the config's Certificates empty: with strict-sni they would be
// served instead of refusing the handshake.
func (o ServerOptions) Config(store *Store) (*tls.Config, []string, error) {
	if store == nil {
		return nil, nil, errors.New("tls: no certificate store")
	}
	minV, maxV := o.MinVersion, o.MaxVersion
	if minV == 0 {
		minV = tls.VersionTLS12
	}
	if maxV == 0 {
		maxV = tls.VersionTLS13
	}
	noTickets := o.DisableTickets
	var err error
	if minV, maxV, noTickets, err = applyOptions(o.Options, minV, maxV, noTickets); err != nil {
		return nil, nil, err
	}
	if minV < tls.VersionTLS12 {
		return nil, nil, fmt.Errorf("tls: minimum version %s refused: lbd serves TLSv1.2 and TLSv1.3 only", VersionName(minV))
	}
	if maxV > tls.VersionTLS13 {
		return nil, nil, fmt.Errorf("tls: maximum version %s unknown", VersionName(maxV))
	}
	if minV > maxV {
		return nil, nil, fmt.Errorf("tls: no version left between %s and %s", VersionName(minV), VersionName(maxV))
	}
	ciphers := o.Ciphers
	if ciphers == "" {
		ciphers = DefaultCiphers
	}
	suites, warns, err := ParseCiphers(ciphers)
	if err != nil {
		return nil, warns, fmt.Errorf("tls: ciphers: %w", err)
	}
	for _, p := range o.ALPN {
		if p == "" || len(p) > 255 {
			return nil, warns, fmt.Errorf("tls: alpn: invalid protocol name %q", p)
		}
	}
	allow13 := maxV >= tls.VersionTLS13
	protos := append([]string(nil), o.ALPN...)
	if o.Challenge != nil && !slices.Contains(protos, ACMETLS1) {
		protos = append(protos, ACMETLS1)
	}
	challenge := o.Challenge
	cfg := &tls.Config{
		MinVersion:             minV,
		MaxVersion:             maxV,
		CipherSuites:           suites,
		NextProtos:             protos,
		SessionTicketsDisabled: noTickets,
		GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if challenge != nil && isACMETLS1(h) {
				if c, ok := challenge(h); ok {
					return c, nil
				}
			}
			c, err := store.get(h, allow13)
			if err == ErrUnknownSNI {
				// With no Certificates in the config, crypto/tls then
				// answers an unrecognized_name alert (an error makes it
				// send internal_error) and Handshake returns "tls: no
				// certificates configured", which Classify maps to
				// ReasonUnknownSNI.
				return nil, nil
			}
			return c, err
		},
	}
	switch o.Verify {
	case "", "none":
		cfg.ClientAuth = tls.NoClientCert
	case "optional":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case "required":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, warns, fmt.Errorf("tls: verify %q: want none, optional or required", o.Verify)
	}
	if o.CAFile != "" {
		pool, err := loadCAFile(o.CAFile)
		if err != nil {
			return nil, warns, err
		}
		cfg.ClientCAs = pool
	} else if cfg.ClientAuth != tls.NoClientCert {
		return nil, warns, fmt.Errorf("tls: verify %s needs a ca-file", o.Verify)
	}
	if challenge != nil && cfg.ClientAuth != tls.NoClientCert {
		// The CA validating TLS-ALPN-01 sends no client certificate.
		noAuth := cfg.Clone()
		noAuth.ClientAuth, noAuth.GetConfigForClient = tls.NoClientCert, nil
		cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			if isACMETLS1(h) {
				return noAuth, nil
			}
			return nil, nil
		}
	}
	if o.TicketKeys != nil && !noTickets {
		o.TicketKeys.Attach(cfg)
	}
	return cfg, warns, nil
}

func loadCAFile(path string) (*x509.CertPool, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, &FileError{File: path, Err: fmt.Errorf("ca-file: %w", err)}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, &FileError{File: path, Err: fmt.Errorf("ca-file: %w", ErrNoCertificate)}
	}
	return pool, nil
}

// applyOptions applies ssl-default-bind-options words.
func applyOptions(s string, minV, maxV uint16, noTickets bool) (uint16, uint16, bool, error) {
	words := strings.Fields(s)
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch w {
		case "no-sslv3", "no-tlsv10", "no-tlsv11":
			// Refused anyway.
		case "no-tlsv12":
			if minV <= tls.VersionTLS12 {
				minV = tls.VersionTLS13
			}
		case "no-tlsv13":
			if maxV >= tls.VersionTLS13 {
				maxV = tls.VersionTLS12
			}
		case "force-tlsv12":
			minV, maxV = tls.VersionTLS12, tls.VersionTLS12
		case "force-tlsv13":
			minV, maxV = tls.VersionTLS13, tls.VersionTLS13
		case "force-sslv3", "force-tlsv10", "force-tlsv11":
			return 0, 0, false, fmt.Errorf("tls: option %s refused: lbd serves TLSv1.2 and TLSv1.3 only", w)
		case "ssl-min-ver", "ssl-max-ver":
			if i+1 >= len(words) {
				return 0, 0, false, fmt.Errorf("tls: option %s needs a version (TLSv1.2 or TLSv1.3)", w)
			}
			i++
			v, err := ParseVersion(words[i])
			if err != nil {
				return 0, 0, false, fmt.Errorf("tls: option %s: %w", w, err)
			}
			if v < tls.VersionTLS12 && w == "ssl-min-ver" {
				return 0, 0, false, fmt.Errorf("tls: option ssl-min-ver %s refused: lbd serves TLSv1.2 and TLSv1.3 only", words[i])
			}
			if w == "ssl-min-ver" {
				minV = v
			} else {
				maxV = v
			}
		case "no-tls-tickets":
			noTickets = true
		case "prefer-client-ciphers":
			// crypto/tls chooses by its own order (client's AES hardware
			// support first); nothing to set.
		default:
			return 0, 0, false, fmt.Errorf("tls: unknown option %q (known: no-tlsv12, no-tlsv13, force-tlsv12, force-tlsv13, ssl-min-ver V, ssl-max-ver V, no-tls-tickets, prefer-client-ciphers)", w)
		}
	}
	return minV, maxV, noTickets, nil
}

// ParseALPN splits HAProxy's comma-separated alpn argument ("h2,http/1.1").
func ParseALPN(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p == "" || len(p) > 255 {
			return nil, fmt.Errorf("alpn: invalid protocol name %q", p)
		}
		out = append(out, p)
	}
	return out, nil
}
