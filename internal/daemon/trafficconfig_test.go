package daemon

import (
	"testing"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/proxy"
)

func TestTrafficMapping(t *testing.T) {
	cfg, err := config.LoadBytes("t.yaml", []byte(`
frontends:
  - name: www
    bind: ["*:80"]
    default_backend: app
    accept_proxy: {from: [10.0.0.0/8]}
    log_format: "%ci %{+Q}r"
    log_privacy: {mode: pseudonym}
  - name: plain
    bind: ["*:81"]
    default_backend: app
backends:
  - name: app
    servers:
      - {name: a, address: "10.0.0.1:80", send_proxy: v2, check: true}
      - {name: b, address: "10.0.0.2:80", send_proxy: v1, check: true, check_port: 8080}
      - {name: c, address: "10.0.0.3:80", check: true, check_send_proxy: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := proxyConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ap := pc.Frontends[0].AcceptProxy; ap == nil || len(ap.From) != 1 || pc.Frontends[1].AcceptProxy != nil {
		t.Errorf("accept_proxy: %+v / %+v", ap, pc.Frontends[1].AcceptProxy)
	}
	srv := pc.Backends[0].Servers
	if srv[0].SendProxy != proxy.SendProxyV2 || srv[1].SendProxy != proxy.SendProxyV1 || srv[2].SendProxy != 0 {
		t.Errorf("send_proxy: %+v", srv)
	}
	cs := checksConfig(cfg).Backends[0].Servers
	if cs[0].Check.SendProxy != 2 || cs[1].Check.SendProxy != 0 || cs[2].Check.SendProxy != 1 {
		t.Errorf("check send proxy: %d %d %d", cs[0].Check.SendProxy, cs[1].Check.SendProxy, cs[2].Check.SendProxy)
	}
	lo, err := logOptions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if fl := lo.Frontends["www"]; fl == nil || fl.Privacy == nil || !fl.Privacy.Pseudonym || len(fl.Format) == 0 || lo.Frontends["plain"] != nil {
		t.Errorf("log options: %+v", lo.Frontends)
	}
}
