package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/internal/config"
)

// TestSeedConfigThroughLoader runs the first article's haproxy setup,
// written as lbd YAML and loaded by config.LoadBytes (defaults applied):
// static content by ACL, cookie persistence on the app servers,
// http-server-close and forwardfor except loopback.
func TestSeedConfigThroughLoader(t *testing.T) {
	app1 := newBackend(t, "web01", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "web01 cookie=%q xff=%q close=%v", r.Header.Get("Cookie"), r.Header.Get("X-Forwarded-For"), r.Close)
	})
	app2 := newBackend(t, "web02", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "web02 cookie=%q xff=%q close=%v", r.Header.Get("Cookie"), r.Header.Get("X-Forwarded-For"), r.Close)
	})
	static := newBackend(t, "static01", nil)
	yaml := fmt.Sprintf(`
global:
  maxconn: 4096
defaults:
  mode: http
  log: global
  options:
    httplog: true
    dontlognull: true
    http_server_close: true
    redispatch: true
    forwardfor:
      except: [127.0.0.0/8]
  timeouts:
    http_request: 10s
    http_keep_alive: 10s
    client: 1m
    server: 1m
    connect: 10s
    queue: 1m
  retries: 3
  maxconn: 3000
frontends:
  - name: main_webapp
    bind: ["%s"]
    acls:
      - {name: url_static, criterion: path_beg, ignore_case: true, values: [/static, /images]}
      - {name: url_static, criterion: path_end, ignore_case: true, values: [.jpg, .png, .css, .js]}
    use_backends:
      - {backend: static, if: url_static}
    default_backend: app_servers
backends:
  - name: app_servers
    balance: roundrobin
    cookie: {name: SERVERID, mode: insert, indirect: true, nocache: true}
    servers:
      - {name: web01, address: "%s", cookie: s1}
      - {name: web02, address: "%s", cookie: s2}
  - name: static
    servers:
      - {name: static01, address: "%s"}
`, freeAddr(t), app1.addr(), app2.addr(), static.addr())
	cfg, err := config.LoadBytes("seed.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("LoadBytes: %v", err)
	}
	_, addr, sink := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	res, body := rc.get("/index.php", "Cookie: lang=en\r\n")
	if !strings.HasPrefix(body, "web01 ") || !strings.Contains(body, `cookie="lang=en"`) || !strings.Contains(body, `xff=""`) || !strings.Contains(body, "close=true") {
		t.Fatalf("first request: %s", body)
	}
	if got := res.Header.Get("Set-Cookie"); got != "SERVERID=s1; path=/" || res.Header.Get("Cache-Control") != "private" {
		t.Fatalf("Set-Cookie %q Cache-Control %q", got, res.Header.Get("Cache-Control"))
	}
	for i := 0; i < 3; i++ {
		_, body := rc.get("/cart.php", "Cookie: lang=en; SERVERID=s1\r\n")
		if !strings.HasPrefix(body, `web01 cookie="lang=en"`) {
			t.Fatalf("persistent request %d: %s", i, body)
		}
	}
	if res, _ := rc.get("/images/logo.PNG"); res.Header.Get("X-Server") != "static01" {
		t.Errorf("static ACL: %s", res.Header.Get("X-Server"))
	}
	if rec := sink.last(t); rec.Backend != "static" || rec.Server != "static01" {
		t.Errorf("record %+v", rec)
	}
}
