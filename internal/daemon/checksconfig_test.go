package daemon

import (
	"testing"
	"time"

	"github.com/lbd-ha/lbd/checks"
	"github.com/lbd-ha/lbd/internal/config"
)

// The checks see what config.Load resolved: default_server, the defaults'
// health_check and timeouts, listen sections as backends.
func TestChecksConfigFromLoadedConfig(t *testing.T) {
	cfg, err := config.LoadBytes("t.yaml", []byte(`
global:
  spread_checks: 5
defaults:
  timeouts:
    check: 10s
    contimeout: 4s
  default_server:
    inter: 3s
    fall: 5
  health_check:
    type: http
    method: GET
    uri: /health_check.php
backends:
  - name: b
    servers:
      - {name: s, address: "10.0.0.1:80", check: true}
      - {name: t, address: "10.0.0.2:80", check: true, rise: 7, check_port: 8080}
      - {name: u, address: "10.0.0.3:80", disabled: true, backup: true}
listen:
  - name: l
    bind: ["127.0.0.1:8080"]
    health_check: {type: tcp}
    servers:
      - {name: x, address: "10.0.0.4:80", check: true, check_addr: 10.0.0.5}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := checksConfig(cfg)
	p := checks.Params{Inter: 3 * time.Second, FastInter: 3 * time.Second, DownInter: 3 * time.Second, Rise: 2, Fall: 5}
	http := checks.CheckSpec{HTTP: true, Method: "GET", URI: "/health_check.php", Version: "HTTP/1.0",
		ConnectTimeout: 4 * time.Second, CheckTimeout: 10 * time.Second}
	if got.SpreadChecks != 5 || len(got.Backends) != 2 || got.Backends[0].Name != "b" || got.Backends[1].Name != "l" {
		t.Fatalf("checks config %+v", got)
	}
	b := got.Backends[0].Servers
	s, tt, u := b[0], b[1], b[2]
	wantS := http
	wantS.Addr = "10.0.0.1:80"
	if s.Name != "s" || s.Address != "10.0.0.1:80" || s.Params != p || s.Check == nil || *s.Check != wantS {
		t.Errorf("server s: %+v check %+v", s, s.Check)
	}
	pt := p
	pt.Rise = 7
	if tt.Params != pt || tt.Check == nil || tt.Check.Addr != "10.0.0.2:8080" {
		t.Errorf("server t: %+v check %+v", tt, tt.Check)
	}
	if u.Check != nil || !u.Disabled || !u.Backup {
		t.Errorf("server u: %+v", u)
	}
	x := got.Backends[1].Servers[0]
	if x.Check == nil || x.Check.HTTP || x.Check.Addr != "10.0.0.5:80" {
		t.Errorf("listen server x: %+v check %+v", x, x.Check)
	}
}

func TestCheckTarget(t *testing.T) {
	tests := []struct {
		addr, caddr string
		port        int
		want        string
	}{
		{"10.0.0.1:80", "", 0, "10.0.0.1:80"},
		{"10.0.0.1:80", "", 8080, "10.0.0.1:8080"},
		{"10.0.0.1:80", "10.0.0.9", 0, "10.0.0.9:80"},
		{"10.0.0.1:80", "10.0.0.9", 82, "10.0.0.9:82"},
		{"[::1]:80", "", 9000, "[::1]:9000"},
		{"[::1]:80", "fd00::9", 0, "[fd00::9]:80"},
		{"web1.example:80", "", 0, "web1.example:80"},
	}
	for _, tc := range tests {
		if got := checkTarget(tc.addr, tc.caddr, tc.port); got != tc.want {
			t.Errorf("checkTarget(%q,%q,%d) = %q; want %q", tc.addr, tc.caddr, tc.port, got, tc.want)
		}
	}
}
