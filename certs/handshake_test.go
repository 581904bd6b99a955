package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tlsServer accepts on loopback, runs the handshake with cfg, reports
// each handshake's error (nil on success) and answers "ok\n".
type tlsServer struct {
	addr    string
	results chan error
}

func startTLSServer(t *testing.T, cfg *tls.Config, handshakeTimeout time.Duration) *tlsServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := &tlsServer{addr: ln.Addr().String(), results: make(chan error, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				c.SetDeadline(time.Now().Add(handshakeTimeout))
				err := tc.Handshake()
				s.results <- err
				if err == nil {
					tc.Write([]byte("ok\n"))
					io.Copy(io.Discard, tc) // until the client closes
				}
			}()
		}
	}()
	return s
}

func (s *tlsServer) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.results:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no handshake result from the server")
		return nil
	}
}

// dial runs a client handshake, reads the server's greeting (which also
// lets a TLS 1.3 client take its session ticket) and closes.
func dial(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 3)
	if _, err := io.ReadFull(c, buf); err != nil {
		return c.ConnectionState(), err
	}
	return c.ConnectionState(), nil
}

func pool(cas ...*issued) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cas {
		p.AddCert(c.cert)
	}
	return p
}

func TestHandshakeSNIAndALPN(t *testing.T) {
	dir, ca := sniFixture(t)
	s, _, err := New(Options{Crt: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := ServerOptions{ALPN: []string{"h2", "http/1.1"}}.Config(s)
	if err != nil {
		t.Fatal(err)
	}
	srv := startTLSServer(t, cfg, 5*time.Second)
	for _, tc := range []struct{ sni, cn string }{
		{"a.example.com", "a.example.com"},
		{"foo.example.com", "wild"},
		{"b.example.org", "b.example.org"},
	} {
		// Go's client refuses a CN-only certificate; b.example.org is one.
		st, err := dial(srv.addr, &tls.Config{ServerName: tc.sni, RootCAs: pool(ca), NextProtos: []string{"h2", "http/1.1"}, InsecureSkipVerify: tc.sni == "b.example.org"})
		if err != nil {
			t.Fatalf("%s: %v", tc.sni, err)
		}
		if srv.result(t) != nil || st.PeerCertificates[0].Subject.CommonName != tc.cn || st.NegotiatedProtocol != "h2" || st.Version != tls.VersionTLS13 {
			t.Errorf("%s: served %s, alpn %q, version %x", tc.sni, st.PeerCertificates[0].Subject.CommonName, st.NegotiatedProtocol, st.Version)
		}
	}
}

func TestHandshakeECDSAOrRSA(t *testing.T) {
	s, ca := dualFixture(t)
	cfg, _, err := ServerOptions{}.Config(s)
	if err != nil {
		t.Fatal(err)
	}
	srv := startTLSServer(t, cfg, 5*time.Second)
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		want x509.PublicKeyAlgorithm
	}{
		{"default client", &tls.Config{}, x509.ECDSA},
		{"tls12 ecdsa suites", &tls.Config{MaxVersion: tls.VersionTLS12}, x509.ECDSA},
		{"tls12 only rsa suites", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}}, x509.RSA},
	} {
		tc.cfg.ServerName, tc.cfg.RootCAs = "d.example.com", pool(ca)
		st, err := dial(srv.addr, tc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := srv.result(t); err != nil {
			t.Fatalf("%s: server: %v", tc.name, err)
		}
		if got := st.PeerCertificates[0].PublicKeyAlgorithm; got != tc.want {
			t.Errorf("%s: served %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestClassify pins every Reason with a real handshake that fails for
// that reason, so a Go upgrade that rewords an error is caught here.
func TestClassify(t *testing.T) {
	dir, ca := sniFixture(t)
	clientCA := newCA(t, "Client CA")
	otherCA := newCA(t, "Other CA")
	caFile := writeFile(t, t.TempDir(), "clients.pem", pemCert(clientCA))
	good := issue(t, clientCA, certSpec{cn: "client", client: true})
	bad := issue(t, otherCA, certSpec{cn: "intruder", client: true})
	// GetClientCertificate sends the certificate even when its issuer is
	// not among the server's acceptable CAs (Go's client would send none).
	withCert := func(c *tls.Config, i *issued) *tls.Config {
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &tls.Certificate{Certificate: [][]byte{i.der}, PrivateKey: i.key}, nil
		}
		return c
	}

	store, _, err := New(Options{Crt: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	strict, _, err := New(Options{Crt: []string{dir}, StrictSNI: true})
	if err != nil {
		t.Fatal(err)
	}
	plain, _, _ := ServerOptions{}.Config(store)
	strictCfg, _, _ := ServerOptions{}.Config(strict)
	required, _, err := ServerOptions{CAFile: caFile, Verify: "required"}.Config(store)
	if err != nil {
		t.Fatal(err)
	}
	optional, _, _ := ServerOptions{CAFile: caFile, Verify: "optional"}.Config(store)

	servers := map[string]*tlsServer{
		"plain":    startTLSServer(t, plain, 5*time.Second),
		"slow":     startTLSServer(t, plain, 300*time.Millisecond),
		"strict":   startTLSServer(t, strictCfg, 5*time.Second),
		"required": startTLSServer(t, required, 5*time.Second),
		"optional": startTLSServer(t, optional, 5*time.Second),
	}
	base := func() *tls.Config { return &tls.Config{ServerName: "a.example.com", RootCAs: pool(ca)} }
	for _, tc := range []struct {
		name   string
		server string
		client func() *tls.Config // nil: send raw bytes instead
		raw    []byte
		want   Reason
	}{
		{"tls11 client", "plain", func() *tls.Config {
			c := base()
			c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
			return c
		}, nil, ReasonProtocolVersion},
		{"no shared cipher", "plain", func() *tls.Config {
			c := base()
			c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}
			return c
		}, nil, ReasonNoSharedCipher},
		{"unknown sni", "strict", func() *tls.Config { c := base(); c.ServerName = "nope.test"; return c }, nil, ReasonUnknownSNI},
		{"no client cert", "required", base, nil, ReasonBadClientCert},
		{"client cert tls12", "required", func() *tls.Config { c := base(); c.MaxVersion = tls.VersionTLS12; return withCert(c, bad) }, nil, ReasonBadClientCert},
		{"client cert other ca", "optional", func() *tls.Config { return withCert(base(), bad) }, nil, ReasonBadClientCert},
		{"timeout", "slow", nil, nil, ReasonTimeout},
		{"garbage", "plain", nil, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ReasonOther},
		{"good client cert", "required", func() *tls.Config { return withCert(base(), good) }, nil, ""},
		{"optional without cert", "optional", base, nil, ""},
	} {
		srv := servers[tc.server]
		if tc.client != nil {
			_, cerr := dial(srv.addr, tc.client())
			if tc.want == ReasonUnknownSNI && (cerr == nil || !strings.Contains(cerr.Error(), "unrecognized name")) {
				t.Errorf("%s: the client must get an unrecognized_name alert, got %v", tc.name, cerr)
			}
		} else {
			c, err := net.Dial("tcp", srv.addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Write(tc.raw)
			if tc.want != ReasonTimeout {
				c.(*net.TCPConn).CloseWrite()
			}
			defer c.Close()
		}
		err := srv.result(t)
		if got := Classify(err); got != tc.want {
			t.Errorf("%s: Classify(%v) = %q, want %q", tc.name, err, got, tc.want)
		}
	}
	if Classify(errors.New("x")) != ReasonOther || Classify(nil) != "" {
		t.Error("Classify fallbacks")
	}
}

func TestSessionTickets(t *testing.T) {
	dir, ca := sniFixture(t)
	s, _, err := New(Options{Crt: []string{filepath.Join(dir, "a.pem")}})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewTicketKeys(time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	newServer := func(k *TicketKeys) *tlsServer {
		cfg, _, err := ServerOptions{TicketKeys: k}.Config(s)
		if err != nil {
			t.Fatal(err)
		}
		return startTLSServer(t, cfg, 5*time.Second)
	}
	client := &tls.Config{ServerName: "a.example.com", RootCAs: pool(ca), ClientSessionCache: tls.NewLRUClientSessionCache(4)}
	resumed := func(srv *tlsServer) bool {
		t.Helper()
		st, err := dial(srv.addr, client)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.result(t); err != nil {
			t.Fatal(err)
		}
		return st.DidResume
	}
	a := newServer(keys)
	if resumed(a) || !resumed(a) {
		t.Fatal("first connection must be full, second resumed")
	}
	// A new tls.Config (a reload) sharing the keys still resumes.
	b := newServer(keys)
	if !resumed(b) {
		t.Error("a reloaded config with the same TicketKeys must resume")
	}
	// One rotation keeps the previous key (keep=1) ...
	if err := keys.Rotate(); err != nil {
		t.Fatal(err)
	}
	if len(keys.Keys()) != 2 {
		t.Fatalf("keys after one rotation: %d", len(keys.Keys()))
	}
	client.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	resumed(b) // full handshake, ticket under the current key
	keys.Rotate()
	if !resumed(b) {
		t.Error("a ticket from the previous key must still resume")
	}
	// ... two drop it.
	client.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	resumed(b)
	keys.Rotate()
	keys.Rotate()
	if resumed(b) {
		t.Error("a ticket two keys old must not resume")
	}
	// Keys set from outside (the pair node) resume on another "node".
	other, _ := NewTicketKeys(0, -1)
	c := newServer(other)
	if resumed(c) {
		t.Error("different keys must not resume")
	}
	if err := other.Set(keys.Keys()); err != nil {
		t.Fatal(err)
	}
	client.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	resumed(b)
	if !resumed(c) {
		t.Error("shared keys must resume across nodes")
	}
	if other.Set(nil) == nil {
		t.Error("Set(nil) must fail")
	}
	// no-tls-tickets turns resumption off.
	cfg, _, err := ServerOptions{Options: "no-tls-tickets", TicketKeys: keys}.Config(s)
	if err != nil || !cfg.SessionTicketsDisabled {
		t.Errorf("no-tls-tickets: %v %v", err, cfg.SessionTicketsDisabled)
	}
}
