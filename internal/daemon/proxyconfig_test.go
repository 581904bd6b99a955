package daemon

import (
	"context"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/proxy"
)

// TestProxyConfigSeed maps the seed setup written as lbd.yaml (defaults
// resolved by config.LoadBytes) and compares it with the proxy.Config the
// proxy's own tests serve (proxy/seed_test.go: seedConfig).
func TestProxyConfigSeed(t *testing.T) {
	yaml := `
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
    bind: ["127.0.0.1:8080"]
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
      - {name: web01, address: "10.0.0.1:80", cookie: s1}
      - {name: web02, address: "10.0.0.2:80", cookie: s2}
  - name: static
    servers:
      - {name: static01, address: "10.0.0.3:80"}
`
	cfg, err := config.LoadBytes("seed.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	got, err := proxyConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fwd := &proxy.ForwardFor{Header: "X-Forwarded-For", Except: []string{"127.0.0.0/8"}}
	be := func(name string, servers ...proxy.Server) proxy.Backend {
		return proxy.Backend{
			Name: name, Servers: servers, Retries: 3, Redispatch: true,
			ConnectTimeout: 10 * time.Second, ServerTimeout: time.Minute, QueueTimeout: time.Minute,
			TunnelTimeout: time.Minute, HTTPServerClose: true, ForwardFor: fwd,
		}
	}
	app := be("app_servers",
		proxy.Server{Name: "web01", Address: "10.0.0.1:80", Cookie: "s1", Weight: 1},
		proxy.Server{Name: "web02", Address: "10.0.0.2:80", Cookie: "s2", Weight: 1})
	app.Cookie = &proxy.Cookie{Name: "SERVERID", Mode: proxy.CookieInsert, Indirect: true, NoCache: true}
	want := &proxy.Config{
		Maxconn: 4096,
		Frontends: []proxy.Frontend{{
			Name: "main_webapp", Binds: []string{"127.0.0.1:8080"}, Maxconn: 3000,
			ACLs: []proxy.ACL{
				{Name: "url_static", Criterion: "path_beg", IgnoreCase: true, Values: []string{"/static", "/images"}},
				{Name: "url_static", Criterion: "path_end", IgnoreCase: true, Values: []string{".jpg", ".png", ".css", ".js"}},
			},
			UseBackends:        []proxy.UseBackend{{Backend: "static", If: "url_static"}},
			DefaultBackend:     "app_servers",
			HTTPRequestTimeout: 10 * time.Second, KeepAliveTimeout: 10 * time.Second, ClientTimeout: time.Minute,
			HTTPServerClose: true, ForwardFor: fwd, Log: true, DontLogNull: true,
		}},
		Backends: []proxy.Backend{app, be("static", proxy.Server{Name: "static01", Address: "10.0.0.3:80", Weight: 1})},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mapped config:\n%+v\nwant:\n%+v", got, want)
	}
}

// TestTunnelTimeoutPrecedence runs mode tcp sessions that go idle and
// measures when the proxy closes them: a backend's own timeouts.tunnel wins,
// else the frontend's, else the one inherited from defaults (before the
// fix, a frontend's timeouts.tunnel was ignored).
func TestTunnelTimeoutPrecedence(t *testing.T) {
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		for {
			c, err := srv.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	const short, long = 200 * time.Millisecond, 5 * time.Second
	for _, tc := range []struct {
		name       string
		defaults   string // timeouts.tunnel in defaults, frontend, backend ("" unset)
		fe, be     string
		wantClosed bool // closed well before `long`
	}{
		{"frontend only", "", "200ms", "", true},
		{"frontend over defaults", "5s", "200ms", "", true},
		{"backend over frontend", "", "5s", "200ms", true},
		{"backend's own wins over a short frontend", "", "200ms", "5s", false},
		{"defaults only", "200ms", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tun := func(v string) string {
				if v == "" {
					return ""
				}
				return "\n    timeouts: {tunnel: " + v + "}"
			}
			dtun := ""
			if tc.defaults != "" {
				dtun = ", tunnel: " + tc.defaults
			}
			yaml := fmt.Sprintf(`
defaults:
  mode: tcp
  timeouts: {client: 5s, server: 5s, connect: 1s%s}
frontends:
  - name: fe
    bind: ["%s"]
    default_backend: be%s
backends:
  - name: be
    servers: [{name: s1, address: "%s"}]%s
`, dtun, freeAddr(t), tun(tc.fe), srv.Addr(), tun(tc.be))
			cfg, err := config.LoadBytes("tunnel.yaml", []byte(yaml))
			if err != nil {
				t.Fatal(err)
			}
			pc, err := proxyConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			e, err := proxy.New(pc, proxy.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				e.Shutdown(ctx)
			}()
			c, err := net.Dial("tcp", e.BoundAddrs("fe")[0])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			c.SetReadDeadline(start.Add(2 * time.Second))
			_, err = c.Read(make([]byte, 1))
			closed := err != nil && !strings.Contains(err.Error(), "timeout")
			if closed != tc.wantClosed {
				t.Errorf("closed by the proxy after %v: %v (err %v), want closed=%v", time.Since(start).Round(time.Millisecond), closed, err, tc.wantClosed)
			}
			if closed && time.Since(start) < short/2 {
				t.Errorf("closed after %v, before the %v tunnel timeout", time.Since(start), short)
			}
		})
	}
}
