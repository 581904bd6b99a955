package certs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrUnknownSNI is returned by GetCertificate with StrictSNI when the
// client sent no SNI or one that no certificate names (HAProxy's
// strict-sni). Classify maps it to ReasonUnknownSNI.
var ErrUnknownSNI = errors.New("certs: no certificate for the requested server name (strict-sni)")

// ErrNoCertificateYet is returned by GetCertificate when the store loaded
// no certificate at all (only Options.AllowEmpty directories, all empty).
// crypto/tls then answers an internal_error alert; Classify maps it to
// ReasonNoCertificate.
var ErrNoCertificateYet = errors.New("certs: no certificate loaded yet (the certificate directory is empty)")

// Options says what a Store loads.
type Options struct {
	// Crt lists the crt arguments in order, as HAProxy's "crt FILE|DIR":
	// a file holds the certificate, its chain (each certificate followed
	// by its issuer) and usually the key; a key missing from FILE is read
	// from FILE.key (or NAME.key for NAME.crt). A directory loads every
	// file in it in lexical order, skipping hidden files and the .key,
	// .ocsp, .issuer and .sctl files. At least one entry is required.
	Crt []string
	// Default names the file of the default certificate, served when the
	// client sends no SNI or one no certificate matches. "" means the
	// first certificate loaded, as HAProxy does.
	Default string
	// StrictSNI refuses handshakes without a matching SNI instead of
	// serving the default certificate (HAProxy's strict-sni).
	StrictSNI bool
	// AllowEmpty lists directories of Crt that may hold no certificate
	// file yet, or not exist yet (a directory another component fills,
	// such as lbd's ACME certificate directory). Such a directory
	// contributes a Warning with Empty set instead of an error. When no
	// entry of Crt holds a certificate, the store loads and serves none:
	// every handshake fails with ErrNoCertificateYet until a Reload (or a
	// new Store) finds one. Paths are compared after filepath.Clean. Any
	// other empty directory stays an error, as HAProxy refuses it.
	AllowEmpty []string
	// Now returns the current time, for expiry warnings and DaysLeft.
	// nil means time.Now.
	Now func() time.Time
}

// Store holds the certificates of a bind and picks one per handshake.
// GetCertificate is safe for concurrent use with Reload; it takes no lock
// and does not allocate (except for an SNI with uppercase letters).
type Store struct {
	opts Options
	mu   sync.Mutex // serialises Reload
	idx  atomic.Pointer[index]
}

// slot holds the certificates that answer for one name: the first ECDSA,
// the first RSA and the first other (Ed25519) certificate loaded for it.
type slot struct {
	ecdsa, rsa, other *tls.Certificate
	curve             tls.CurveID
	scheme            tls.SignatureScheme
}

// index is immutable once built; GetCertificate reads it without a lock.
type index struct {
	exact    map[string]*slot // full names
	wild     map[string]*slot // "example.com" for "*.example.com"
	def      *slot
	defEntry *entry
	entries  []*entry
	strict   bool
}

// New loads the certificates of opts. It returns the warnings (expired
// certificates, ...) separately from the error; on error no Store is
// returned.
func New(opts Options) (*Store, []Warning, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{opts: opts}
	idx, warns, err := build(opts)
	if err != nil {
		return nil, warns, err
	}
	s.idx.Store(idx)
	return s, warns, nil
}

// Reload reads the files again and, when all of them load and validate,
// swaps the new index in: new handshakes use the new certificates, open
// connections are not touched. On any error the old index keeps serving
// and the error says which file and why.
func (s *Store) Reload() ([]Warning, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, warns, err := build(s.opts)
	if err != nil {
		return warns, fmt.Errorf("reload kept the previous certificates: %w", err)
	}
	s.idx.Store(idx)
	return warns, nil
}

func build(opts Options) (*index, []Warning, error) {
	if len(opts.Crt) == 0 {
		return nil, nil, errors.New("no crt file or directory given")
	}
	files, warns, err := expandPaths(opts.Crt, opts.AllowEmpty)
	if err != nil {
		return nil, warns, err
	}
	now := opts.Now()
	idx := &index{exact: map[string]*slot{}, wild: map[string]*slot{}, strict: opts.StrictSNI}
	for _, f := range files {
		e, w, err := loadFile(f, now)
		warns = append(warns, w...)
		if err != nil {
			return nil, warns, err
		}
		idx.entries = append(idx.entries, e)
		for _, n := range e.names {
			m, key, ok := idx.exact, n, true
			if strings.Contains(n, "*") {
				key, ok = strings.CutPrefix(n, "*.")
				m = idx.wild
				if !ok || key == "" || strings.Contains(key, "*") {
					// Only a leftmost "*." wildcard matches (RFC 6125 6.4.3
					// as browsers apply it); other forms never match.
					warns = append(warns, Warning{File: f, Message: fmt.Sprintf("name %q: only a leftmost \"*.\" wildcard is matched; this name is ignored for SNI", n)})
					continue
				}
			}
			sl := m[key]
			if sl == nil {
				sl = &slot{}
				m[key] = sl
			}
			sl.add(e)
		}
	}
	if len(idx.entries) == 0 {
		// Only empty AllowEmpty directories: nothing to serve yet.
		if opts.Default != "" {
			return nil, warns, fmt.Errorf("default certificate %s is not among the loaded files", opts.Default)
		}
		return idx, warns, nil
	}
	idx.defEntry = idx.entries[0]
	if opts.Default != "" {
		idx.defEntry = nil
		want := filepath.Clean(opts.Default)
		for _, e := range idx.entries {
			if filepath.Clean(e.file) == want {
				idx.defEntry = e
				break
			}
		}
		if idx.defEntry == nil {
			return nil, warns, fmt.Errorf("default certificate %s is not among the loaded files", opts.Default)
		}
	}
	// The default slot: the default certificate plus the other key type
	// loaded for its first name, so that the default also has an ECDSA/RSA
	// pair when one exists.
	def := &slot{}
	if sl := idx.lookup(idx.defEntry.names[0]); sl != nil {
		*def = *sl
	}
	def.set(idx.defEntry)
	idx.def = def
	return idx, warns, nil
}

func (sl *slot) add(e *entry) {
	switch {
	case e.ecdsa && sl.ecdsa == nil, e.rsa && sl.rsa == nil, !e.ecdsa && !e.rsa && sl.other == nil:
		sl.set(e)
	}
}

func (sl *slot) set(e *entry) {
	switch {
	case e.ecdsa:
		sl.ecdsa, sl.curve, sl.scheme = &e.cert, e.curve, e.scheme
	case e.rsa:
		sl.rsa = &e.cert
	default:
		sl.other = &e.cert
	}
}

// lookup finds the slot for a lowercased name: exact names first, then a
// wildcard covering exactly one leftmost label.
func (x *index) lookup(name string) *slot {
	if sl := x.exact[name]; sl != nil {
		return sl
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		return x.wild[name[i+1:]]
	}
	return nil
}

// GetCertificate is a tls.Config.GetCertificate: it picks the certificate
// for hello's SNI (or the default one), ECDSA when the client supports it
// and RSA otherwise. It assumes TLS 1.3 may be negotiated; ServerOptions
// installs the variant that knows the bind's maximum version.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.get(hello, true)
}

func (s *Store) get(hello *tls.ClientHelloInfo, allow13 bool) (*tls.Certificate, error) {
	x := s.idx.Load()
	if x.def == nil {
		return nil, ErrNoCertificateYet
	}
	name := hello.ServerName
	var sl *slot
	if name != "" {
		if hasUpper(name) {
			name = strings.ToLower(name)
		}
		sl = x.lookup(strings.TrimSuffix(name, "."))
	}
	if sl == nil {
		if x.strict {
			return nil, ErrUnknownSNI
		}
		sl = x.def
	}
	return sl.choose(hello, allow13), nil
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// choose returns the ECDSA certificate when the client can use it, else
// the RSA one, else whatever the slot holds.
func (sl *slot) choose(h *tls.ClientHelloInfo, allow13 bool) *tls.Certificate {
	if sl.ecdsa != nil {
		if (sl.rsa == nil && sl.other == nil) || supportsECDSA(h, sl.curve, sl.scheme, allow13) {
			return sl.ecdsa
		}
	}
	if sl.rsa != nil {
		return sl.rsa
	}
	if sl.other != nil {
		return sl.other
	}
	return sl.ecdsa
}

// supportsECDSA reports whether a ClientHello can be answered with an
// ECDSA certificate on curve (TLS 1.3 signature scheme scheme): with TLS
// 1.3 the client must offer that scheme; with TLS 1.2 it must offer an
// ECDHE-ECDSA cipher suite, the curve (when it lists curves) and an ECDSA
// signature scheme (when it lists schemes).
func supportsECDSA(h *tls.ClientHelloInfo, curve tls.CurveID, scheme tls.SignatureScheme, allow13 bool) bool {
	if allow13 {
		for _, v := range h.SupportedVersions {
			if v == tls.VersionTLS13 {
				for _, sc := range h.SignatureSchemes {
					if sc == scheme {
						return true
					}
				}
				return false
			}
		}
	}
	suite := false
	for _, c := range h.CipherSuites {
		if isECDSASuite(c) {
			suite = true
			break
		}
	}
	if !suite {
		return false
	}
	if len(h.SupportedCurves) > 0 {
		ok := false
		for _, c := range h.SupportedCurves {
			if c == curve {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(h.SignatureSchemes) > 0 {
		for _, sc := range h.SignatureSchemes {
			switch sc {
			case tls.ECDSAWithP256AndSHA256, tls.ECDSAWithP384AndSHA384, tls.ECDSAWithP521AndSHA512, tls.ECDSAWithSHA1:
				return true
			}
		}
		return false
	}
	return true
}

func isECDSASuite(id uint16) bool {
	switch id {
	case tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA:
		return true
	}
	return false
}

// Info describes one loaded certificate, for lbctl cert list, lbctl status
// and /metrics.
type Info struct {
	File      string    `json:"file"`
	Names     []string  `json:"names"` // the names SNI matches (SAN DNS names, or CN)
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// DaysLeft is the number of whole days until NotAfter, rounded down:
	// negative once the certificate has expired.
	DaysLeft int    `json:"days_left"`
	KeyType  string `json:"key_type"` // "ECDSA P-256", "RSA 2048", "Ed25519"
	Default  bool   `json:"default"`
}

// Info lists the loaded certificates in load order.
func (s *Store) Info() []Info {
	x := s.idx.Load()
	now := s.opts.Now()
	out := make([]Info, 0, len(x.entries))
	for _, e := range x.entries {
		left := e.leaf.NotAfter.Sub(now)
		days := int(left / (24 * time.Hour))
		if left < 0 {
			days = -int((-left + 24*time.Hour - 1) / (24 * time.Hour))
		}
		out = append(out, Info{
			File:      e.file,
			Names:     append([]string(nil), e.names...),
			Subject:   e.leaf.Subject.String(),
			Issuer:    e.leaf.Issuer.String(),
			NotBefore: e.leaf.NotBefore,
			NotAfter:  e.leaf.NotAfter,
			DaysLeft:  days,
			KeyType:   e.keyType,
			Default:   e == x.defEntry,
		})
	}
	return out
}

// Expiring lists the certificates whose NotAfter is within d from now
// (expired ones included), for lbctl status's 14-day warning.
func (s *Store) Expiring(d time.Duration) []Info {
	var out []Info
	limit := s.opts.Now().Add(d)
	for _, i := range s.Info() {
		if !i.NotAfter.After(limit) {
			out = append(out, i)
		}
	}
	return out
}
