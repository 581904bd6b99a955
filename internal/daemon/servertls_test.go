package daemon

import (
	"testing"

	"github.com/lbd-ha/lbd/certs"
	"github.com/lbd-ha/lbd/internal/config"
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
}
