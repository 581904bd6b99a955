package daemon

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/certs"
	"github.com/lbd-ha/lbd/certs/certstest"
	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/proxy"
)

// TestServerTLSMapping: servers' ssl blocks reach the proxy (verify, SNI
// forms) and the checks (TLS implied on the traffic address, check_ssl,
// check_sni; none with check_port unless check_ssl).
func TestServerTLSMapping(t *testing.T) {
	yaml := `
defaults:
  mode: http
  default_server:
    ssl:
      verify: none
frontends:
  - name: fe
    bind: ["127.0.0.1:8080"]
    default_backend: app
backends:
  - name: app
    servers:
      - {name: dflt, address: "10.0.0.1:443", check: true}
      - {name: fixed, address: "10.0.0.2:443", check: true, ssl: {verify: required, sni: "str(api.example.test)"}, check_sni: health.test}
      - {name: host, address: "10.0.0.3:443", check: true, check_port: 8080, ssl: {sni: "req.hdr(host)"}}
      - {name: front, address: "10.0.0.4:443", check: true, check_port: 8443, check_ssl: true, ssl: {sni: ssl_fc_sni}}
      - {name: plain, address: "10.0.0.5:80", check: true, ssl: {enabled: false}}
`
	cfg, err := config.LoadBytes("tls.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := proxyConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ss := pc.Backends[0].Servers
	want := []*proxy.ServerTLS{
		{Options: certs.ClientOptions{Verify: false}},
		{Options: certs.ClientOptions{Verify: true}, SNI: proxy.SNI{From: proxy.SNIFixed, Name: "api.example.test"}},
		{Options: certs.ClientOptions{Verify: false}, SNI: proxy.SNI{From: proxy.SNIHost}},
		{Options: certs.ClientOptions{Verify: false}, SNI: proxy.SNI{From: proxy.SNIFrontend}},
	}
	for i, w := range want {
		if ss[i].TLS == nil || *ss[i].TLS != *w {
			t.Errorf("server %s: TLS %+v, want %+v", ss[i].Name, ss[i].TLS, w)
		}
	}
	cc := checksConfig(cfg)
	cs := cc.Backends[0].Servers
	if c := cs[0].Check; !c.TLS || c.TLSOptions.Verify {
		t.Errorf("dflt (default_server ssl): %+v", c)
	}
	if c := cs[1].Check; !c.TLS || !c.TLSOptions.Verify || c.TLSOptions.ServerName != "health.test" {
		t.Errorf("fixed: %+v", c)
	}
	if c := cs[2].Check; c.TLS {
		t.Errorf("check_port without check_ssl: %+v", c)
	}
	if c := cs[3].Check; !c.TLS {
		t.Errorf("check_ssl: %+v", c)
	}
	// ssl: {enabled: false} turns default_server's ssl off, checks too.
	if ss[4].TLS != nil || cs[4].Check.TLS {
		t.Errorf("plain (enabled: false): TLS %+v, check %+v", ss[4].TLS, cs[4].Check)
	}
}

const serverTLSConfig = `global:
  control_socket: %SOCK%
sysctl:
  apply: false
frontends:
  - name: fe
    bind: ["%ADDR%"]
    default_backend: app
backends:
  - name: app
    servers:
      - {name: good, address: "%GOOD%", check: true, inter: 100ms, ssl: {ca_file: "%CA%", sni: "str(app.test)"}}
      - {name: bad, address: "%GOOD%", check: true, inter: 100ms, rise: 1, fall: 1, check_sni: app.test, ssl: {ca_file: "%WRONG%", sni: "str(app.test)"}}
`

// TestServerTLSDaemon: lbd.yaml with ssl servers end to end: traffic to
// the verified server, TLS checks that keep it UP (L6OK) and take the one
// with the wrong CA DOWN (L6RSP) with the reason in the status, and the
// server's handshake counters in the status.
func TestServerTLSDaemon(t *testing.T) {
	dir := t.TempDir()
	ca, wrong := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "wrong.pem")
	certstest.Write(t, ca, certstest.Spec{Names: []string{"app.test"}})
	certstest.Write(t, wrong, certstest.Spec{Names: []string{"app.test"}})
	kp, err := tls.LoadX509KeyPair(ca, ca)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls %s", r.TLS.ServerName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{kp}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	front := freeAddr(t)
	cfg := strings.NewReplacer("%ADDR%", front, "%GOOD%", srv.Listener.Addr().String(), "%CA%", ca, "%WRONG%", wrong).Replace(serverTLSConfig)
	td := startDaemon(t, cfg)
	c := &control.Client{Socket: td.sock}
	var good, bad control.ServerStatus
	waitStatus(t, c, func(st *control.Status) bool {
		good, bad = st.Backends[0].Servers[0], st.Backends[0].Servers[1]
		return good.Check.Result == "L6OK" && good.State == "UP" && bad.State == "DOWN" && bad.Check.Result == "L6RSP"
	})
	if !strings.Contains(bad.Check.Info, "certificate verify failed") {
		t.Fatalf("bad server's check: %+v", bad.Check)
	}
	for i := 0; i < 3; i++ {
		res, err := http.Get("http://" + front + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "tls app.test" {
			t.Fatalf("request %d: %d %q", i, res.StatusCode, b)
		}
	}
	waitStatus(t, c, func(st *control.Status) bool {
		good = st.Backends[0].Servers[0]
		return good.TLS && good.TLSHandshakes >= 1 && good.TLSFailures == 0
	})
}
