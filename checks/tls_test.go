package checks

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/certs"
	"github.com/lbd-ha/lbd/certs/certstest"
)

// tlsHealthServer serves HTTPS with a self-signed certificate for name and
// records the SNI of each handshake; it returns its address and the
// certificate as a ca-file.
func tlsHealthServer(t *testing.T, name string) (addr, ca string, snis func() []string) {
	t.Helper()
	ca = filepath.Join(t.TempDir(), "srv.pem")
	certstest.Write(t, ca, certstest.Spec{Names: []string{name}})
	kp, err := tls.LoadX509KeyPair(ca, ca)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{kp}, GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		seen = append(seen, hi.ServerName)
		mu.Unlock()
		return nil, nil
	}}, ErrorLog: log.New(io.Discard, "", 0)}
	go hs.ServeTLS(ln, "", "")
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String(), ca, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// TestCheckTLS: TCP and HTTP checks over TLS pass with the right CA and
// send check-sni; a wrong CA or a wrong name fails with L6RSP and the
// reason; verify none passes.
func TestCheckTLS(t *testing.T) {
	addr, ca, snis := tlsHealthServer(t, "health.test")
	wrong := filepath.Join(t.TempDir(), "other.pem")
	certstest.Write(t, wrong, certstest.Spec{Names: []string{"health.test"}})
	to := Timeouts{Inter: 2 * time.Second}
	run := func(spec CheckSpec) Result {
		t.Helper()
		spec.Addr = addr
		spec.TLS = true
		c, err := spec.checker(to.Inter)
		if err != nil {
			t.Fatal(err)
		}
		return c.Check(context.Background())
	}
	good := certs.ClientOptions{Verify: true, CAFile: ca, ServerName: "health.test"}
	if r := run(CheckSpec{TLSOptions: good}); r.Code != L6OK {
		t.Fatalf("tcp check over TLS: %+v", r)
	}
	if r := run(CheckSpec{TLSOptions: good, HTTP: true, Method: "GET", URI: "/", Version: "HTTP/1.1"}); r.Code != L7OK {
		t.Fatalf("http check over TLS: %+v", r)
	}
	if s := snis(); len(s) != 2 || s[0] != "health.test" || s[1] != "health.test" {
		t.Fatalf("SNI seen: %q", s)
	}
	r := run(CheckSpec{TLSOptions: certs.ClientOptions{Verify: true, CAFile: wrong, ServerName: "health.test"}})
	if r.Code != L6RSP || !strings.Contains(r.Info, "certificate verify failed") || r.OK() {
		t.Fatalf("wrong CA: %+v", r)
	}
	r = run(CheckSpec{TLSOptions: certs.ClientOptions{Verify: true, CAFile: ca, ServerName: "other.test"}})
	if r.Code != L6RSP || !strings.Contains(r.Info, "certificate verify failed") {
		t.Fatalf("wrong name: %+v", r)
	}
	if r := run(CheckSpec{TLSOptions: certs.ClientOptions{Verify: false}}); r.Code != L6OK {
		t.Fatalf("verify none: %+v", r)
	}
	// verify_host: the certificate is checked against it, whatever check_sni says.
	if r := run(CheckSpec{TLSOptions: certs.ClientOptions{Verify: true, CAFile: ca, ServerName: "other.test", VerifyHost: "health.test"}}); r.Code != L6OK {
		t.Fatalf("verify host health.test, sni other.test: %+v", r)
	}
	r = run(CheckSpec{TLSOptions: certs.ClientOptions{Verify: true, CAFile: ca, ServerName: "health.test", VerifyHost: "other.test"}})
	if r.Code != L6RSP || !strings.Contains(r.Info, "certificate verify failed") || !strings.Contains(r.Info, "other.test") {
		t.Fatalf("verify host other.test: %+v", r)
	}
	// A plain TCP server that does not speak TLS: the handshake fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.0 400 Bad\r\n\r\n"))
			c.Close()
		}
	}()
	c, _ := CheckSpec{Addr: ln.Addr().String(), TLS: true, TLSOptions: good}.checker(to.Inter)
	if r := c.Check(context.Background()); r.Code != L6RSP {
		t.Fatalf("plain server: %+v", r)
	}
	if _, err := (CheckSpec{Addr: addr, TLS: true, TLSOptions: certs.ClientOptions{Verify: true, CAFile: "/nonexistent/ca.pem"}}).checker(to.Inter); err == nil {
		t.Fatal("missing ca file accepted")
	}
}

// TestCheckTLSUpDown: a server whose TLS check fails verification goes
// DOWN with Layer6 and the reason in its status, and comes back UP once
// the check trusts its certificate.
func TestCheckTLSUpDown(t *testing.T) {
	addr, ca, _ := tlsHealthServer(t, "health.test")
	wrong := filepath.Join(t.TempDir(), "other.pem")
	certstest.Write(t, wrong, certstest.Spec{Names: []string{"health.test"}})
	ch := make(chan Event, 16)
	m := New(Options{OnChange: func(e Event) { ch <- e }})
	defer m.Close()
	mk := func(caFile string) Config {
		s := srv("web01", addr, func(s *ServerSpec) {
			s.Params.Inter, s.Params.Rise, s.Params.Fall = 30*time.Millisecond, 2, 2
			s.Check.TLS = true
			s.Check.TLSOptions = certs.ClientOptions{Verify: true, CAFile: caFile, ServerName: "health.test"}
		})
		return cfgOf(0, be("app", nil, s))
	}
	if err := m.Apply(mk(wrong)); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, ch, 5*time.Second)
	if e.Up || e.State != StateDown || e.Reason != "Layer6 invalid response" {
		t.Fatalf("event %+v", e)
	}
	cs, _, _ := m.Status("app", "web01")
	if cs.Result != L6RSP || !strings.Contains(cs.Info, "certificate verify failed") {
		t.Fatalf("status %+v", cs)
	}
	if err := m.Apply(mk(ca)); err != nil {
		t.Fatal(err)
	}
	e = waitEvent(t, ch, 5*time.Second)
	if !e.Up || e.State != StateUp {
		t.Fatalf("event %+v", e)
	}
	if cs, _, _ := m.Status("app", "web01"); cs.Result != L6OK {
		t.Fatalf("status %+v", cs)
	}
}
