package acme

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"github.com/mholt/acmez/v3/acme"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options configure a Manager.
type Options struct {
	Store *Store
	// Directory is the CA's ACME directory URL; Email the account's.
	Directory, Email string
	// Roots trusts the directory's TLS certificate (a private CA); nil:
	// the system's.
	Roots *x509.CertPool
	// EABKeyID and EABHMAC: External Account Binding, when the CA needs it.
	EABKeyID, EABHMAC string
	// KeyType: "ecdsa-p256" (default) or "rsa2048".
	KeyType string
	// Certificates: each a list of names; certmagic orders one certificate
	// per name, the list groups them for status.
	Certificates [][]string
	// HTTPPort is the port certmagic's own HTTP-01 server tries when
	// nothing listens there (lbd's HTTP frontends normally do); default 80.
	HTTPPort int
	// NoHTTP01 leaves HTTP-01 out of the challenges offered to the CA.
	NoHTTP01 bool
	// TLSALPN01 enables TLS-ALPN-01 (RFC 8737), answered by the TLS binds
	// through TLSALPNCert; TLSALPNPort is the port certmagic's own TLS
	// server tries when nothing listens there (default 443).
	TLSALPN01   bool
	TLSALPNPort int
	// RenewalWindowRatio: renew when this share of the lifetime is left
	// (default certmagic's 1/3), unless the CA's ARI says otherwise.
	RenewalWindowRatio float64
	// RenewCheckInterval: how often certificates are checked (default
	// certmagic's 10m).
	RenewCheckInterval time.Duration
	Logger             *slog.Logger
}

// Status is one certificate as `lbctl acme status` shows it.
type Status struct {
	Name        string    `json:"name"`
	Group       []string  `json:"group,omitempty"`
	State       string    `json:"state"` // pending, obtaining, renewing, valid, failing
	File        string    `json:"file,omitempty"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	Issuer      string    `json:"issuer,omitempty"`
	Fingerprint string    `json:"sha256,omitempty"`
	// FailingSince is the first failure of the running order or renewal;
	// LastError its latest error. The current certificate keeps serving.
	FailingSince time.Time `json:"failing_since,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	LastErrorAt  time.Time `json:"last_error_at,omitzero"`
	// LockHolder is the node ordering or renewing it now, if any.
	LockHolder string `json:"lock_holder,omitempty"`
}

// Manager obtains and renews the certificates through certmagic.
type Manager struct {
	opts  Options
	log   *slog.Logger
	cache *certmagic.Cache
	cfg   *certmagic.Config
	iss   *certmagic.ACMEIssuer

	mu    sync.Mutex
	state map[string]*Status
}

// New builds the certmagic configuration; Start begins managing.
func New(opts Options) (*Manager, error) {
	if opts.Store == nil {
		return nil, errors.New("acme: no store")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{opts: opts, log: opts.Logger.With("component", "acme"), state: map[string]*Status{}}
	for _, g := range opts.Certificates {
		for _, n := range g {
			m.state[strings.ToLower(n)] = &Status{Name: strings.ToLower(n), Group: g, State: "pending"}
		}
	}
	zl := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zapcore.EncoderConfig{MessageKey: "msg", LevelKey: "", NameKey: "logger"}),
		zapcore.AddSync(&slogWriter{log: m.log}), zap.InfoLevel))
	kt := certmagic.P256
	if opts.KeyType == "rsa2048" {
		kt = certmagic.RSA2048
	}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.cfg, nil },
		RenewCheckInterval: opts.RenewCheckInterval,
		Logger:             zl,
	})
	m.cfg = certmagic.New(m.cache, certmagic.Config{
		Storage:            opts.Store,
		RenewalWindowRatio: opts.RenewalWindowRatio,
		KeySource:          certmagic.StandardKeyGenerator{KeyType: kt},
		OnEvent:            m.onEvent,
		Logger:             zl,
	})
	tmpl := certmagic.ACMEIssuer{
		CA:                      opts.Directory,
		Email:                   opts.Email,
		Agreed:                  true,
		TrustedRoots:            opts.Roots,
		DisableHTTPChallenge:    opts.NoHTTP01,
		DisableTLSALPNChallenge: !opts.TLSALPN01,
		AltHTTPPort:             opts.HTTPPort,
		AltTLSALPNPort:          opts.TLSALPNPort,
		Logger:                  zl,
	}
	if opts.EABKeyID != "" {
		tmpl.ExternalAccount = &acme.EAB{KeyID: opts.EABKeyID, MACKey: opts.EABHMAC}
	}
	m.iss = certmagic.NewACMEIssuer(m.cfg, tmpl)
	m.cfg.Issuers = []certmagic.Issuer{m.iss}
	return m, nil
}

// Start manages every certificate in the background: each is obtained
// when storage has none, and renewed in its window, with retries and
// backoff on failure (certmagic's). It does not wait for the CA.
func (m *Manager) Start(ctx context.Context) error {
	var names []string
	for _, g := range m.opts.Certificates {
		names = append(names, g...)
	}
	if err := m.cfg.ManageAsync(ctx, names); err != nil {
		return fmt.Errorf("acme: %w", err)
	}
	return nil
}

// TLSALPNCert answers a TLS-ALPN-01 validation: the challenge certificate
// for hello's server name when an order here or on the peer (the challenge
// is in the replicated store before the CA is told) waits for it; ok false
// otherwise, or when hello does not offer only "acme-tls/1".
func (m *Manager) TLSALPNCert(hello *tls.ClientHelloInfo) (*tls.Certificate, bool) {
	if !m.opts.TLSALPN01 || len(hello.SupportedProtos) != 1 || hello.SupportedProtos[0] != acmez.ACMETLS1Protocol {
		return nil, false
	}
	c, err := m.cfg.GetCertificate(hello)
	if err != nil || c == nil || len(c.Certificate) == 0 {
		return nil, false
	}
	return c, true
}

// Stop ends renewal checks.
func (m *Manager) Stop() { m.cache.Stop() }

// Renew forces a renewal of the certificate for name now (under the pair
// lock, so the peer does not renew it too).
func (m *Manager) Renew(ctx context.Context, name string) error {
	name = strings.ToLower(name)
	m.mu.Lock()
	_, ok := m.state[name]
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("acme: no certificate named %q in tls.acme.certificates", name)
	}
	if leaf := readLeaf(filepath.Join(m.opts.Store.opts.CertDir, certmagic.StorageKeys.Safe(name)+".pem")); leaf == nil {
		if err := m.cfg.ObtainCertSync(ctx, name); err != nil {
			return fmt.Errorf("acme: obtaining %s: %w", name, err)
		}
		return nil
	}
	if err := m.cfg.RenewCertSync(ctx, name, true); err != nil {
		return fmt.Errorf("acme: renewing %s: %w", name, err)
	}
	return nil
}

func (m *Manager) onEvent(_ context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	renewal, _ := data["renewal"].(bool)
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.state[strings.ToLower(name)]
	if st == nil {
		return nil
	}
	switch event {
	case "cert_obtaining":
		st.State = "obtaining"
		if renewal {
			st.State = "renewing"
		}
	case "cert_obtained":
		st.State, st.FailingSince, st.LastError, st.LastErrorAt = "valid", time.Time{}, "", time.Time{}
		m.log.Info("acme: certificate obtained", "name", name, "renewal", renewal)
	case "cert_failed":
		st.State = "failing"
		if st.FailingSince.IsZero() {
			st.FailingSince = now
		}
		if err, ok := data["error"].(error); ok {
			st.LastError = err.Error()
		}
		st.LastErrorAt = now
		m.log.Warn("acme: order failed; the current certificate keeps serving, retried with backoff", "name", name, "renewal", renewal, "error", st.LastError)
	}
	return nil
}

// Status lists the certificates, sorted by name, with what their exported
// file holds.
func (m *Manager) Status() []Status {
	m.mu.Lock()
	out := make([]Status, 0, len(m.state))
	for _, st := range m.state {
		out = append(out, *st)
	}
	m.mu.Unlock()
	for i := range out {
		st := &out[i]
		st.File = filepath.Join(m.opts.Store.opts.CertDir, certmagic.StorageKeys.Safe(st.Name)+".pem")
		if leaf := readLeaf(st.File); leaf != nil {
			st.NotAfter, st.Issuer = leaf.NotAfter, leaf.Issuer.CommonName
			sum := sha256.Sum256(leaf.Raw)
			st.Fingerprint = hex.EncodeToString(sum[:])
			if st.State == "pending" {
				st.State = "valid"
			}
		} else {
			st.File = ""
		}
		st.LockHolder = m.opts.Store.Holder("issue_cert_" + st.Name) // certmagic's lock for orders and renewals
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func readLeaf(file string) *x509.Certificate {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	for {
		var p *pem.Block
		p, b = pem.Decode(b)
		if p == nil {
			return nil
		}
		if p.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(p.Bytes)
			if err != nil {
				return nil
			}
			return c
		}
	}
}

// slogWriter turns certmagic's zap lines into debug records (its errors
// reach lbd's log through OnEvent).
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(strings.NewReader(string(p)))
	for sc.Scan() {
		w.log.Debug("certmagic: " + sc.Text())
	}
	return len(p), nil
}

func (w *slogWriter) Sync() error { return nil }

var _ io.Writer = (*slogWriter)(nil)
