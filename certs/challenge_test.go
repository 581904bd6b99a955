package certs

import (
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"
)

// TestChallengeHook: with ServerOptions.Challenge the bind offers
// "acme-tls/1"; a ClientHello offering only it gets the hook's certificate
// (also on a bind that requires client certificates), any other gets the
// store's, and the hook saying no falls back to the store.
func TestChallengeHook(t *testing.T) {
	dir, ca := sniFixture(t)
	s, _, err := New(Options{Crt: []string{filepath.Join(dir, "a.pem")}})
	if err != nil {
		t.Fatal(err)
	}
	chCA := newCA(t, "Challenge")
	chal := &tls.Certificate{Certificate: [][]byte{chCA.der}, PrivateKey: chCA.key}
	answer := true
	hook := func(h *tls.ClientHelloInfo) (*tls.Certificate, bool) {
		if !answer || h.ServerName != "a.example.com" {
			return nil, false
		}
		return chal, true
	}
	caFile := writeFile(t, t.TempDir(), "ca.pem", pemCert(ca))
	for _, verify := range []string{"", "required"} {
		o := ServerOptions{ALPN: []string{"h2", "http/1.1"}, Challenge: hook, Verify: verify}
		if verify != "" {
			o.CAFile = caFile
		}
		cfg, _, err := o.Config(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.NextProtos; len(got) != 3 || got[2] != ACMETLS1 {
			t.Fatalf("NextProtos %v", got)
		}
		srv := startTLSServer(t, cfg, 5*time.Second)
		answer = true
		st, err := dial(srv.addr, &tls.Config{ServerName: "a.example.com", InsecureSkipVerify: true, NextProtos: []string{ACMETLS1}})
		if err != nil || srv.result(t) != nil {
			t.Fatalf("verify %q: acme-tls/1 handshake: %v", verify, err)
		}
		if st.NegotiatedProtocol != ACMETLS1 || st.PeerCertificates[0].Subject.CommonName != "Challenge" {
			t.Errorf("verify %q: alpn %q, served %s; want acme-tls/1 and the challenge certificate", verify, st.NegotiatedProtocol, st.PeerCertificates[0].Subject.CommonName)
		}
		answer = false
		st, err = dial(srv.addr, &tls.Config{ServerName: "a.example.com", InsecureSkipVerify: true, NextProtos: []string{ACMETLS1}})
		if err != nil || srv.result(t) != nil || st.PeerCertificates[0].Subject.CommonName != "a.example.com" {
			t.Errorf("verify %q: no challenge pending: %v, want the store's certificate", verify, err)
		}
		if verify != "" {
			continue
		}
		answer = true
		st, err = dial(srv.addr, &tls.Config{ServerName: "a.example.com", RootCAs: pool(ca), NextProtos: []string{"h2", ACMETLS1}})
		if err != nil || srv.result(t) != nil || st.NegotiatedProtocol != "h2" || st.PeerCertificates[0].Subject.CommonName != "a.example.com" {
			t.Errorf("h2 and acme-tls/1 offered: %v alpn %q, want the store's certificate and h2", err, st.NegotiatedProtocol)
		}
	}
}
