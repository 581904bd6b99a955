package proxy

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSeedConfig runs the first article's haproxy setup: static content by
// ACL, cookie persistence on the app servers, http-server-close and
// forwardfor except loopback. internal/daemon checks that the same setup
// written as lbd YAML maps to SeedConfig.
func TestSeedConfig(t *testing.T) {
	app1 := newBackend(t, "web01", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "web01 cookie=%q xff=%q close=%v", r.Header.Get("Cookie"), r.Header.Get("X-Forwarded-For"), r.Close)
	})
	app2 := newBackend(t, "web02", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "web02 cookie=%q xff=%q close=%v", r.Header.Get("Cookie"), r.Header.Get("X-Forwarded-For"), r.Close)
	})
	static := newBackend(t, "static01", nil)
	cfg := seedConfig(freeAddr(t), app1.addr(), app2.addr(), static.addr())
	_, addr, sink := startEngine(t, &cfg)
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

// seedConfig is the setup of the article lbd started from (HAProxy's
// "main_webapp" example), with the given bind and server addresses: static
// content by ACL, cookie persistence on two application servers,
// http-server-close and forwardfor except loopback, every timeout spelled
// out. Tests use it: the daemon's mapping test (internal/daemon) checks that the same
// setup written as lbd.yaml maps to it.
func seedConfig(bind, web01, web02, static01 string) Config {
	fwd := &ForwardFor{Header: "X-Forwarded-For", Except: []string{"127.0.0.0/8"}}
	be := func(name string, servers ...Server) Backend {
		return Backend{
			Name: name, Servers: servers, Retries: 3, Redispatch: true,
			ConnectTimeout: 10 * time.Second, ServerTimeout: time.Minute, QueueTimeout: time.Minute,
			TunnelTimeout: time.Minute, HTTPServerClose: true, ForwardFor: fwd,
		}
	}
	app := be("app_servers",
		Server{Name: "web01", Address: web01, Cookie: "s1", Weight: 1},
		Server{Name: "web02", Address: web02, Cookie: "s2", Weight: 1})
	app.Cookie = &Cookie{Name: "SERVERID", Mode: CookieInsert, Indirect: true, NoCache: true}
	return Config{
		Maxconn: 4096,
		Frontends: []Frontend{{
			Name: "main_webapp", Binds: []string{bind}, Maxconn: 3000,
			ACLs: []ACL{
				{Name: "url_static", Criterion: "path_beg", IgnoreCase: true, Values: []string{"/static", "/images"}},
				{Name: "url_static", Criterion: "path_end", IgnoreCase: true, Values: []string{".jpg", ".png", ".css", ".js"}},
			},
			UseBackends:        []UseBackend{{Backend: "static", If: "url_static"}},
			DefaultBackend:     "app_servers",
			HTTPRequestTimeout: 10 * time.Second, KeepAliveTimeout: 10 * time.Second,
			ClientTimeout:   time.Minute,
			HTTPServerClose: true, ForwardFor: fwd, Log: true, DontLogNull: true,
		}},
		Backends: []Backend{app, be("static", Server{Name: "static01", Address: static01, Weight: 1})},
	}
}
