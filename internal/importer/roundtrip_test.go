package importer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/daemon"
	"github.com/lbd-ha/lbd/sysctl"
)

// The round trip: import an article's haproxy.cfg, point its binds and
// servers at loopback, run lbd on the result and check what the article
// says the config does (cookie persistence, static ACL routing, the stats
// page behind basic auth).

// appServer is a loopback backend that names itself and records whether
// the persistence cookie reached it.
type appServer struct {
	*httptest.Server
	name string
	mu   sync.Mutex
	sawC int // requests that carried a SERVERID cookie
}

func newAppServer(t *testing.T, name string) *appServer {
	s := &appServer{name: name}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := r.Cookie("SERVERID"); err == nil {
			s.mu.Lock()
			s.sawC++
			s.mu.Unlock()
		}
		w.Header().Set("X-Served-By", name)
		fmt.Fprintf(w, "%s %s\n", name, r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return s
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startLBD writes cfg and runs the daemon on it until the test ends.
func startLBD(t *testing.T, cfg *config.Config) {
	t.Helper()
	dir := t.TempDir()
	// Things a test cannot or must not do: drop privileges, chroot,
	// send syslog; the control socket goes to the temp dir.
	cfg.Global.User, cfg.Global.Group, cfg.Global.Chroot, cfg.Global.Log = "", "", "", nil
	cfg.Global.ControlSocket = filepath.Join(dir, "lbd.sock")
	m := newMapper()
	m.cfg = cfg
	data, err := m.render(nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(daemon.Options{
		ConfigPath: path,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sysctl:     sysctl.NewFake(map[string]string{"fs.file-max": "200000", "net.ipv4.ip_forward": "1", "net.ipv4.ip_nonlocal_bind": "1", "net.ipv6.ip_nonlocal_bind": "1", "net.netfilter.nf_conntrack_max": "262144"}),
		Rlimit:     &sysctl.FakeRlimit{Cur: 65536, Max: 65536},
	})
	if err != nil {
		t.Fatalf("lbd rejects the imported config: %v\n%s", err, data)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("lbd did not stop within 10s")
		}
	})
}

var rtClient = &http.Client{
	Timeout:   2 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// get retries until lbd answers (it starts asynchronously), at most 10s.
func get(t *testing.T, url string, mod func(*http.Request)) (*http.Response, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if mod != nil {
			mod(req)
		}
		resp, err := rtClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
				return resp, string(body)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func setAddr(t *testing.T, servers []config.Server, byName map[string]*appServer) {
	for i := range servers {
		s, ok := byName[servers[i].Name]
		if !ok {
			t.Fatalf("no test server for %s", servers[i].Name)
		}
		servers[i].Address = strings.TrimPrefix(s.URL, "http://")
	}
}

func TestRoundTripArticle1(t *testing.T) {
	r := runCase(t, goldenCases[0])
	cfg := r.Config
	srv := map[string]*appServer{}
	for _, n := range []string{"web01", "web02", "static01"} {
		srv[n] = newAppServer(t, n)
	}
	front, stats := freeLoopback(t), freeLoopback(t)
	cfg.Frontends[0].Bind = []config.Bind{{Address: front}}
	cfg.Stats.Bind = []string{stats}
	for i := range cfg.Backends {
		setAddr(t, cfg.Backends[i].Servers, srv)
	}
	startLBD(t, cfg)

	// Static ACL routing: path_beg /static and path_end .css go to static01.
	for _, p := range []string{"/static/logo.png", "/images/a.gif", "/x/site.CSS"} {
		resp, body := get(t, "http://"+front+p, nil)
		if resp.StatusCode != 200 || resp.Header.Get("X-Served-By") != "static01" {
			t.Errorf("GET %s: %d from %q (%q), want 200 from static01", p, resp.StatusCode, resp.Header.Get("X-Served-By"), body)
		}
	}
	// Cookie persistence: the first answer sets SERVERID; with it every
	// request goes to the same server, which never sees the cookie.
	resp, _ := get(t, "http://"+front+"/index.php", nil)
	first := resp.Header.Get("X-Served-By")
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "SERVERID" {
			cookie = c
		}
	}
	if cookie == nil || (first != "web01" && first != "web02") {
		t.Fatalf("first response from %q with cookies %v, want SERVERID from web01/web02", first, resp.Cookies())
	}
	want := map[string]string{"web01": "s1", "web02": "s2"}[first]
	if cookie.Value != want {
		t.Errorf("SERVERID=%s for %s, want %s", cookie.Value, first, want)
	}
	for i := 0; i < 8; i++ {
		resp, _ := get(t, "http://"+front+"/cart.php", func(r *http.Request) { r.AddCookie(cookie) })
		if got := resp.Header.Get("X-Served-By"); got != first {
			t.Fatalf("request %d with SERVERID=%s went to %q, want %q", i, cookie.Value, got, first)
		}
	}
	if n := srv[first].sawC; n != 0 {
		t.Errorf("%s saw the SERVERID cookie %d times; indirect removes it", first, n)
	}
	// Stats listener with auth.
	resp, _ = get(t, "http://"+stats+"/", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("stats without auth: %d, want 401", resp.StatusCode)
	}
	resp, body := get(t, "http://"+stats+"/", func(r *http.Request) { r.SetBasicAuth("admin", "SuperSecretPassword123") })
	if resp.StatusCode != 200 || !strings.Contains(body, "app_servers") {
		t.Errorf("stats with auth: %d, body mentions app_servers: %v", resp.StatusCode, strings.Contains(body, "app_servers"))
	}
}

func TestRoundTripArticle2(t *testing.T) {
	r := runCase(t, goldenCases[1])
	cfg := r.Config
	srv := map[string]*appServer{"web01": newAppServer(t, "web01"), "web02": newAppServer(t, "web02")}
	front := freeLoopback(t)
	ls := &cfg.Listen[0]
	ls.Bind = []config.Bind{{Address: front}}
	setAddr(t, ls.Servers, srv)
	startLBD(t, cfg)

	// Round robin without a cookie, persistence with one.
	roundRobinAndPersistence(t, front)

	resp, _ := get(t, "http://"+front+"/haproxy?stats", nil)
	if by := resp.Header.Get("X-Served-By"); by != "" {
		t.Fatalf("GET /haproxy?stats was proxied to %s: the stats page inside listen %s must be served by lbd", by, cfg.Listen[0].Name)
	}
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `realm="Strictly Private"`) {
		t.Errorf("stats without auth: %d %q (served by %q), want 401 with realm \"Strictly Private\"", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), resp.Header.Get("X-Served-By"))
	}
	resp, _ = get(t, "http://"+front+"/haproxy?stats", func(r *http.Request) { r.SetBasicAuth("admin", "SuperSecretPassword123") })
	if resp.StatusCode != 200 {
		t.Errorf("stats with auth: %d, want 200", resp.StatusCode)
	}
}

func roundRobinAndPersistence(t *testing.T, front string) {
	seen := map[string]bool{}
	var cookie *http.Cookie
	var owner string
	for i := 0; i < 4; i++ {
		resp, _ := get(t, "http://"+front+"/", nil)
		by := resp.Header.Get("X-Served-By")
		seen[by] = true
		for _, c := range resp.Cookies() {
			if c.Name == "SERVERID" {
				cookie, owner = c, by
			}
		}
	}
	if !seen["web01"] || !seen["web02"] {
		t.Errorf("roundrobin reached %v, want web01 and web02", seen)
	}
	if cookie == nil {
		t.Fatal("no SERVERID cookie set")
	}
	for i := 0; i < 6; i++ {
		resp, _ := get(t, "http://"+front+"/cart", func(r *http.Request) { r.AddCookie(cookie) })
		if got := resp.Header.Get("X-Served-By"); got != owner {
			t.Fatalf("with SERVERID=%s went to %q, want %q", cookie.Value, got, owner)
		}
	}
}
