package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Real peers: openssl s_client and curl against a tiny server that uses
// Store.GetCertificate through ServerOptions.Config.

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := fmt.Sprintf("needs %s: run `scripts/need.sh %s:%s` as root (or apt-get install %s)", name, name, name, name)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// peerServer serves HTTP/1.1 over TLS on loopback and records the
// handshake result of every connection.
type peerServer struct {
	port    string
	results chan error
}

func startPeerServer(t *testing.T, cfg *tls.Config) *peerServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ps := &peerServer{port: port, results: make(chan error, 16)}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello %s %s\n", r.TLS.ServerName, r.Proto)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := tls.Server(c, cfg)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			err = tc.Handshake()
			ps.results <- err
			if err != nil {
				c.Close()
				continue
			}
			c.SetDeadline(time.Time{})
			one := &oneConnListener{c: tc, addr: ln.Addr(), done: make(chan struct{})}
			go srv.Serve(one)
		}
	}()
	t.Cleanup(func() { ln.Close(); srv.Close() })
	return ps
}

// oneConnListener hands one already-handshaken connection to http.Server.
type oneConnListener struct {
	c    net.Conn
	addr net.Addr
	done chan struct{}
	used bool
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	if !l.used {
		l.used = true
		return l.c, nil
	}
	<-l.done
	return nil, errors.New("closed")
}
func (l *oneConnListener) Close() error {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	return nil
}
func (l *oneConnListener) Addr() net.Addr { return l.addr }

func (ps *peerServer) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-ps.results:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no handshake result from the server")
		return nil
	}
}

func runTool(t *testing.T, stdin string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func peerFixture(t *testing.T) (*peerServer, string) {
	t.Helper()
	dir, ca := sniFixture(t)
	caFile := writeFile(t, t.TempDir(), "ca.pem", pemCert(ca))
	s, _, err := New(Options{Crt: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := ServerOptions{ALPN: []string{"http/1.1"}}.Config(s)
	if err != nil {
		t.Fatal(err)
	}
	return startPeerServer(t, cfg), caFile
}

func TestOpenSSLSNI(t *testing.T) {
	openssl := needTool(t, "openssl")
	ps, caFile := peerFixture(t)
	for _, tc := range []struct{ sni, cn string }{
		{"a.example.com", "a.example.com"},
		{"x.example.com", "wild"},
		{"c.example.com", "cn-only.example.org"},
		{"b.example.org", "b.example.org"},
		{"unknown.test", "a.example.com"},
	} {
		out, err := runTool(t, "", openssl, "s_client", "-connect", "127.0.0.1:"+ps.port, "-servername", tc.sni, "-CAfile", caFile)
		if herr := ps.result(t); herr != nil {
			t.Fatalf("%s: server handshake: %v\n%s", tc.sni, herr, out)
		}
		if err != nil {
			t.Fatalf("%s: openssl s_client: %v\n%s", tc.sni, err, out)
		}
		subject := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "subject=") {
				subject = strings.ReplaceAll(strings.TrimPrefix(l, "subject="), " ", "")
				break
			}
		}
		if subject != "CN="+tc.cn {
			t.Errorf("SNI %s: openssl saw subject %q, want CN=%s", tc.sni, subject, tc.cn)
		}
		if !strings.Contains(out, "TLSv1.3") {
			t.Errorf("SNI %s: not TLSv1.3:\n%s", tc.sni, out)
		}
	}
}

func TestOpenSSLRefusesTLS11(t *testing.T) {
	openssl := needTool(t, "openssl")
	ps, _ := peerFixture(t)
	emptyConf := writeFile(t, t.TempDir(), "empty.cnf", nil)
	for _, flag := range []string{"-tls1_1", "-tls1"} {
		// SECLEVEL=0 and an empty config let OpenSSL 3 send a TLS 1.1
		// ClientHello at all; the server must be the one refusing.
		cmd := exec.Command(openssl, "s_client", "-connect", "127.0.0.1:"+ps.port, "-servername", "a.example.com", flag, "-cipher", "DEFAULT:@SECLEVEL=0")
		cmd.Env = append(os.Environ(), "OPENSSL_CONF="+emptyConf)
		cmd.Stdin = strings.NewReader("")
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = cmd.CombinedOutput(); close(done) }()
		herr := ps.result(t)
		<-done
		if err == nil {
			t.Errorf("openssl s_client %s succeeded:\n%s", flag, out)
		}
		if Classify(herr) != ReasonProtocolVersion {
			t.Errorf("%s: server saw %v (%s), want protocol_version\n%s", flag, herr, Classify(herr), out)
		}
	}
}

func TestCurlHTTP11OverTLS(t *testing.T) {
	curl := needTool(t, "curl")
	ps, caFile := peerFixture(t)
	url := "https://a.example.com:" + ps.port + "/"
	resolve := "a.example.com:" + ps.port + ":127.0.0.1"
	for _, args := range [][]string{
		{"--http1.1", "-k"},
		{"--http1.1", "--cacert", caFile},
		{"--http1.1", "--cacert", caFile, "--tlsv1.2", "--tls-max", "1.2"},
	} {
		full := append(append([]string{"-sS", "--max-time", "10", "--resolve", resolve}, args...), url)
		out, err := runTool(t, "", curl, full...)
		if herr := ps.result(t); herr != nil {
			t.Fatalf("curl %v: server handshake: %v", args, herr)
		}
		if err != nil || out != "hello a.example.com HTTP/1.1\n" {
			t.Errorf("curl %v: %q %v", args, out, err)
		}
	}
}
