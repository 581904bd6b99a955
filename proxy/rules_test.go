package proxy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/index.html", "/index.html"},
		{"/admin", "/admin"},
		{"/%61dmin", "/admin"},
		{"/%41DMIN", "/ADMIN"},
		{"//admin", "/admin"},
		{"///admin//x", "/admin/x"},
		{"/x/../admin", "/admin"},
		{"/x/%2e%2e/admin", "/admin"},
		{"/x/%2E%2E/admin", "/admin"},
		{"/./admin", "/admin"},
		{"/admin/.", "/admin/"},
		{"/admin/", "/admin/"},
		{"/../../admin", "/admin"},
		{"/a/b/..", "/a/"},
		{"/a%2fb", "/a%2Fb"}, // '/' is reserved: stays encoded
		{"/a%zzb", "/a%zzb"}, // not an escape
		{"/a%2", "/a%2"},     // truncated escape
		{"/.well-known/x", "/.well-known/x"},
		{"/..", "/"},
		{"*", "*"},
	}
	var buf []byte
	for _, tt := range tests {
		if got := string(normalizePath(&buf, []byte(tt.in))); got != tt.want {
			t.Errorf("normalizePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"/", "/%61dmin", "//a/../b/./c/", "/%2e%2e/%2e", "/a%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf []byte
		p := []byte("/" + s)
		out := normalizePath(&buf, p)
		if len(out) > len(p) || len(out) == 0 || out[0] != '/' {
			t.Fatalf("normalizePath(%q) = %q", p, out)
		}
		// Dot segments and empty segments are gone. (Decoding is done
		// once, as HAProxy's percent-decode-unreserved: "%%36%31" gives
		// "%61", which is not decoded again.)
		o := string(out)
		if strings.Contains(o, "//") || strings.Contains(o, "/./") || strings.Contains(o, "/../") || strings.HasSuffix(o, "/.") || strings.HasSuffix(o, "/..") {
			t.Fatalf("normalizePath(%q) = %q", p, o)
		}
	})
}

func TestRateCounterSlidingWindow(t *testing.T) {
	var r rateCtr
	const p = int64(10 * time.Second)
	base := int64(1000) * p
	r.start = base
	for i := 0; i < 10; i++ {
		r.add(base+int64(i), p, 1)
	}
	if got := r.rate(base+p/2, p); got != 10 {
		t.Fatalf("rate in first period = %d, want 10", got)
	}
	// Half-way through the next period: 10 * 1/2 of the previous one.
	if got := r.rate(base+p+p/2, p); got != 5 {
		t.Fatalf("rate half-way through the next period = %d, want 5", got)
	}
	// Two periods later: nothing.
	if got := r.rate(base+3*p, p); got != 0 {
		t.Fatalf("rate after two periods = %d, want 0", got)
	}
}

// TestStickTableBounded: a flood of spoofed keys never grows the table
// past its size; entries in use are not evicted.
func TestStickTableBounded(t *testing.T) {
	st, err := compileStickTable(StickTable{Name: "t", Size: 100, Expire: time.Minute, Store: []string{"http_req_rate(10s)", "conn_cur"}})
	if err != nil {
		t.Fatal(err)
	}
	held := st.track(netip.MustParseAddr("192.0.2.1"), nil, false)
	for i := 0; i < 20000; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if e := st.track(a, nil, false); e != nil {
			st.release(e, 200, 0, 0)
		}
		if i%7 == 0 {
			if e := st.track(netip.Addr{}, []byte(fmt.Sprintf("k%d", i)), false); e != nil {
				st.release(e, 200, 0, 0)
			}
		}
	}
	if st.n > 100 || len(st.byAddr)+len(st.byStr) > 100 {
		t.Fatalf("table holds %d entries (maps %d+%d), size 100", st.n, len(st.byAddr), len(st.byStr))
	}
	if st.evictions < 19000 {
		t.Fatalf("evictions = %d", st.evictions)
	}
	if v, _ := st.value(held, ctrConnCur); v != 1 {
		t.Fatalf("held entry conn_cur = %d (evicted?)", v)
	}
	if st.byAddr[netip.MustParseAddr("192.0.2.1")] != held {
		t.Fatal("an entry in use was evicted")
	}
	// Every entry in use: new keys are not tracked, the table stays bounded.
	small, _ := compileStickTable(StickTable{Name: "s", Size: 2, Expire: time.Minute, Store: []string{"conn_cur"}})
	small.track(netip.MustParseAddr("192.0.2.1"), nil, true)
	small.track(netip.MustParseAddr("192.0.2.2"), nil, true)
	if e := small.track(netip.MustParseAddr("192.0.2.3"), nil, true); e != nil || small.untracked != 1 || small.n != 2 {
		t.Fatalf("full table tracked a new key: %v untracked=%d n=%d", e, small.untracked, small.n)
	}
}

func TestStickTableExpiry(t *testing.T) {
	st, _ := compileStickTable(StickTable{Name: "t", Size: 10, Expire: 50 * time.Millisecond, Store: []string{"http_req_cnt"}})
	a := netip.MustParseAddr("192.0.2.9")
	e := st.track(a, nil, false)
	st.release(e, 200, 0, 0)
	if v, _ := st.lookup(a, ctrReqCnt, time.Now().UnixNano()); v != 1 {
		t.Fatalf("count = %d", v)
	}
	time.Sleep(80 * time.Millisecond)
	if v, _ := st.lookup(a, ctrReqCnt, time.Now().UnixNano()); v != 0 {
		t.Fatalf("expired entry count = %d", v)
	}
	e = st.track(a, nil, false)
	if v, _ := st.value(e, ctrReqCnt); v != 1 {
		t.Fatalf("expired entry did not start afresh: %d", v)
	}
}

func TestStickTableConfigErrors(t *testing.T) {
	for _, tc := range []StickTable{
		{Name: "", Size: 1, Expire: time.Second},
		{Name: "t", Size: 0, Expire: time.Second},
		{Name: "t", Size: 1},
		{Name: "t", Size: 1, Expire: time.Second, Store: []string{"http_req_rate"}},
		{Name: "t", Size: 1, Expire: time.Second, Store: []string{"conn_cur(10s)"}},
		{Name: "t", Size: 1, Expire: time.Second, Store: []string{"gpc0"}},
	} {
		if _, err := compileStickTable(tc); err == nil {
			t.Errorf("%+v: no error", tc)
		}
	}
}

func TestHdrOcc(t *testing.T) {
	r := parseReq(t, "GET / HTTP/1.1\r\nX-Forwarded-For: 1.1.1.1, 2.2.2.2\r\nX-Forwarded-For: 3.3.3.3\r\n\r\n")
	for occ, want := range map[int]string{1: "1.1.1.1", 2: "2.2.2.2", 3: "3.3.3.3", -1: "3.3.3.3", -2: "2.2.2.2", -3: "1.1.1.1", 4: "", -4: ""} {
		if got := string(hdrOcc(&r.Head, []byte("x-forwarded-for"), occ)); got != want {
			t.Errorf("occ %d = %q, want %q", occ, got, want)
		}
	}
}

// TestRuleCompileErrors: bad rules are refused when the config is
// compiled.
func TestRuleCompileErrors(t *testing.T) {
	bad := []HTTPRule{
		{Action: "frobnicate"},
		{Action: "set-header", Name: "X-A", Value: "a\r\nInjected: yes"},
		{Action: "set-header", Name: "X A", Value: "a"},
		{Action: "set-header", Name: "Content-Length", Value: "1"},
		{Action: "add-header", Name: "Transfer-Encoding", Value: "chunked"},
		{Action: "redirect", Location: "http://x/\r\nSet-Cookie: a"},
		{Action: "redirect", Location: "//evil.example"},
		{Action: "redirect", Location: "javascript alert"},
		{Action: "redirect", Location: "/a", Prefix: "/b"},
		{Action: "redirect", Scheme: "ht tp"},
		{Action: "redirect", Location: "/a", Status: 200},
		{Action: "deny", Status: 99},
		{Action: "deny", If: "{ path_beg /a", Unless: ""},
		{Action: "deny", If: "{path_beg /a}"},
		{Action: "deny", If: "nosuchacl"},
		{Action: "deny", If: "{ path_beg /a }", Unless: "{ path_beg /b }"},
		{Action: "deny", If: "{ sc_http_req_rate(4) gt 1 }"},
		{Action: "deny", If: "{ sc_http_req_rate(0) gt x }"},
		{Action: "deny", If: "{ src_conn_cur ge 1 }"},
		{Action: "set-path", Value: "no-slash"},
		{Action: "set-var", Name: "sess.x", Value: "str(a)"},
		{Action: "set-var", Name: "txn.x", Value: "rand()"},
		{Action: "track-sc0", Table: "nosuch"},
		{Action: "auth"},
		{Action: "tarpit"},
		{Action: "return", File: "/nonexistent/file"},
		{Action: "replace-header", Name: "X-A", Match: "(", Value: "b"},
	}
	for _, r := range bad {
		cfg := testConfig(srv("s1", "127.0.0.1:1"))
		cfg.Frontends[0].HTTPRequestRules = []HTTPRule{r}
		if _, _, err := compile(cfg, newRegistry()); err == nil {
			t.Errorf("%+v: compiled", r)
		}
	}
	cfg := testConfig(srv("s1", "127.0.0.1:1"))
	cfg.Frontends[0].HTTPResponseRules = []HTTPRule{{Action: "deny"}}
	if _, _, err := compile(cfg, newRegistry()); err == nil {
		t.Error("http-response deny compiled")
	}
}

func rulesEngine(t *testing.T, rules []HTTPRule, mod ...func(*Config)) (string, *testBackend, *Engine) {
	t.Helper()
	be := newBackend(t, "s1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "secret-server/1.0")
		w.Header().Set("X-Path", r.URL.RawPath+"|"+r.RequestURI)
		w.Header().Set("X-Seen-Proto", r.Header.Get("X-Forwarded-Proto"))
		w.Header().Set("X-Seen-A", strings.Join(r.Header.Values("X-A"), ","))
		fmt.Fprint(w, "ok")
	})
	cfg := testConfig(srv("s1", be.addr()))
	cfg.Frontends[0].HTTPRequestRules = rules
	for _, m := range mod {
		m(cfg)
	}
	e, addr, _ := startEngine(t, cfg)
	return addr, be, e
}

// TestDenyPathNormalised: a deny rule on /admin holds against the usual
// ways of spelling it differently; case matters.
func TestDenyPathNormalised(t *testing.T) {
	addr, be, _ := rulesEngine(t, []HTTPRule{{Action: "deny", If: "{ path_beg /admin }"}})
	for _, p := range []string{"/admin", "/%61dmin", "//admin", "/x/../admin", "/admin/", "/x/%2e%2e/admin/y", "/./admin", "/admin?x=1"} {
		rc := dialRaw(t, addr)
		res, _ := rc.get(p)
		if res.StatusCode != 403 {
			t.Errorf("%s: status %d, want 403", p, res.StatusCode)
		}
	}
	for _, p := range []string{"/ADMIN", "/public", "/administrator-guide"[:0] + "/pub//x"} {
		rc := dialRaw(t, addr)
		res, _ := rc.get(p)
		if res.StatusCode != 200 {
			t.Errorf("%s: status %d, want 200", p, res.StatusCode)
		}
	}
	// Forwarded unchanged by default.
	reqs := be.requests()
	if got := reqs[len(reqs)-1].RequestURI; got != "/pub//x" {
		t.Errorf("server got %q, want the path unchanged", got)
	}
}

func TestNormalizeRewriteAndOff(t *testing.T) {
	addr, be, _ := rulesEngine(t, nil, func(c *Config) { c.Frontends[0].NormalizeURI = NormalizeRewrite })
	rc := dialRaw(t, addr)
	rc.get("/a//b/../%63?q=/x/../y")
	if got := be.requests()[0].RequestURI; got != "/a/c?q=/x/../y" {
		t.Errorf("rewrite: server got %q", got)
	}
	addr, _, _ = rulesEngine(t, []HTTPRule{{Action: "deny", If: "{ path_beg /admin }"}}, func(c *Config) { c.Frontends[0].NormalizeURI = NormalizeOff })
	rc = dialRaw(t, addr)
	if res, _ := rc.get("/%61dmin"); res.StatusCode != 200 {
		t.Errorf("off: /%%61dmin status %d, want 200 (no normalisation)", res.StatusCode)
	}
}

func TestHTTPResponseRulesHSTS(t *testing.T) {
	addr, _, _ := rulesEngine(t, nil, func(c *Config) {
		c.Frontends[0].HTTPResponseRules = []HTTPRule{
			{Action: "set-header", Name: "Strict-Transport-Security", Value: "max-age=63072000"},
			{Action: "del-header", Name: "Server"},
			{Action: "add-header", Name: "X-Frame-Options", Value: "DENY", If: "{ path_beg /app }"},
		}
	})
	rc := dialRaw(t, addr)
	res, body := rc.get("/app/x")
	if res.Header.Get("Strict-Transport-Security") != "max-age=63072000" || res.Header.Get("Server") != "" || res.Header.Get("X-Frame-Options") != "DENY" || body != "ok" {
		t.Fatalf("headers %v body %q", res.Header, body)
	}
	res, _ = rc.get("/other") // same connection: keep-alive works
	if res.Header.Get("X-Frame-Options") != "" || res.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("second response headers %v", res.Header)
	}
}

func TestHTTPRequestRuleActions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "maint.html")
	os.WriteFile(file, []byte("<p>maintenance</p>"), 0o644)
	addr, be, _ := rulesEngine(t, []HTTPRule{
		{Action: "return", Status: 200, ContentType: "text/plain", Body: "healthy\n", If: "{ path /healthz }"},
		{Action: "return", Status: 503, ContentType: "text/html", File: file, If: "{ path /maint }"},
		{Action: "redirect", Location: "https://example.com/new", Status: 301, If: "{ path /old }"},
		{Action: "redirect", Prefix: "https://example.org", If: "{ path_beg /moved }"},
		{Action: "redirect", Scheme: "https", Status: 308, If: "{ hdr(x-plain) yes }"},
		{Action: "allow", If: "{ path_beg /open }"},
		{Action: "deny", Status: 451, If: "{ path_beg /open } || { path_beg /legal }"},
		{Action: "set-var", Name: "txn.who", Value: "req.hdr(x-who)"},
		{Action: "deny", Status: 418, If: "{ var(txn.who) teapot }"},
		{Action: "set-header", Name: "X-Forwarded-Proto", Value: "https"},
		{Action: "add-header", Name: "X-A", Value: "two"},
		{Action: "replace-header", Name: "X-A", Match: "one-(.*)", Value: "uno-$1"},
		{Action: "del-header", Name: "X-Secret"},
		{Action: "set-path", Value: "/rewritten", If: "{ path /setpath }"},
		{Action: "deny", If: "{ src 192.0.2.0/24 }"},
	})
	rc := dialRaw(t, addr)
	res, body := rc.get("/healthz")
	if res.StatusCode != 200 || body != "healthy\n" || res.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("return: %d %q %v", res.StatusCode, body, res.Header)
	}
	res, body = rc.get("/maint") // keep-alive after a return
	if res.StatusCode != 503 || body != "<p>maintenance</p>" {
		t.Fatalf("return file: %d %q", res.StatusCode, body)
	}
	res, _ = rc.get("/old")
	if res.StatusCode != 301 || res.Header.Get("Location") != "https://example.com/new" {
		t.Fatalf("redirect location: %d %v", res.StatusCode, res.Header)
	}
	res, _ = rc.get("/moved/a?b=c")
	if res.StatusCode != 302 || res.Header.Get("Location") != "https://example.org/moved/a?b=c" {
		t.Fatalf("redirect prefix: %d %v", res.StatusCode, res.Header)
	}
	res, _ = rc.get("/p?q", "X-Plain: yes\r\n")
	if res.StatusCode != 308 || res.Header.Get("Location") != "https://test/p?q" {
		t.Fatalf("redirect scheme: %d %v", res.StatusCode, res.Header)
	}
	res, body = rc.get("/open/x") // allow stops before the deny
	if res.StatusCode != 200 || body != "ok" {
		t.Fatalf("allow: %d %q", res.StatusCode, body)
	}
	if res.Header.Get("X-Seen-Proto") != "" {
		t.Fatalf("rules after allow ran: %v", res.Header)
	}
	res, _ = rc.get("/legal")
	if res.StatusCode != 451 {
		t.Fatalf("deny 451: %d", res.StatusCode)
	}
	rc = dialRaw(t, addr)
	res, _ = rc.get("/x", "X-Who: teapot\r\n")
	if res.StatusCode != 418 {
		t.Fatalf("set-var/var(): %d", res.StatusCode)
	}
	rc = dialRaw(t, addr)
	res, _ = rc.get("/x", "X-Who: coffee\r\n", "X-A: one-1\r\n", "X-Secret: s\r\n", "X-Forwarded-Proto: http\r\n")
	if res.StatusCode != 200 || res.Header.Get("X-Seen-Proto") != "https" || res.Header.Get("X-Seen-A") != "uno-1,two" {
		t.Fatalf("header rules: %d %v", res.StatusCode, res.Header)
	}
	last := be.requests()[len(be.requests())-1]
	if last.Header.Get("X-Secret") != "" || len(last.Header.Values("X-Forwarded-Proto")) != 1 {
		t.Fatalf("server saw %v", last.Header)
	}
	res, _ = rc.get("/setpath?k=v")
	if res.StatusCode != 200 {
		t.Fatalf("set-path: %d", res.StatusCode)
	}
	if got := be.requests()[len(be.requests())-1].RequestURI; got != "/rewritten?k=v" {
		t.Fatalf("set-path: server got %q", got)
	}
}

func TestAuthRule(t *testing.T) {
	addr, _, _ := rulesEngine(t, []HTTPRule{{Action: "auth", Realm: "admin area", Users: []string{"alice:s3cret", "bob:pw"}, If: "{ path_beg /admin }"}})
	rc := dialRaw(t, addr)
	res, _ := rc.get("/admin/")
	if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != `Basic realm="admin area"` {
		t.Fatalf("no credentials: %d %v", res.StatusCode, res.Header)
	}
	bad := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:wrong")) + "\r\n"
	if res, _ = rc.get("/admin/", bad); res.StatusCode != 401 {
		t.Fatalf("bad credentials: %d", res.StatusCode)
	}
	good := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret")) + "\r\n"
	if res, _ = rc.get("/admin/", good); res.StatusCode != 200 {
		t.Fatalf("good credentials: %d", res.StatusCode)
	}
	if res, _ = rc.get("/public"); res.StatusCode != 200 {
		t.Fatalf("outside the condition: %d", res.StatusCode)
	}
}

func TestTarpit(t *testing.T) {
	addr, _, _ := rulesEngine(t, []HTTPRule{{Action: "tarpit", If: "{ path_beg /wp-login }"}}, func(c *Config) {
		c.Frontends[0].TarpitTimeout = 300 * time.Millisecond
	})
	rc := dialRaw(t, addr)
	t0 := time.Now()
	res, _ := rc.get("/wp-login.php")
	if res.StatusCode != 500 || time.Since(t0) < 250*time.Millisecond {
		t.Fatalf("tarpit: %d after %v", res.StatusCode, time.Since(t0))
	}
	rc.expectClosed()
}

// TestRateLimit429: the sixth request within the window is denied 429;
// another client is not.
func TestRateLimit429(t *testing.T) {
	var e *Engine
	addr, _, e := rulesEngine(t, []HTTPRule{
		{Action: "track-sc0", Key: "req.hdr(X-Forwarded-For)", Table: "per_client"},
		{Action: "deny", Status: 429, If: "{ sc_http_req_rate(0) gt 5 }"},
	}, func(c *Config) {
		c.Tables = []StickTable{{Name: "per_client", Size: 1000, Expire: time.Minute, Store: []string{"http_req_rate(10s)", "http_err_rate(10s)", "conn_cur"}}}
	})
	rc := dialRaw(t, addr)
	for i := 1; i <= 8; i++ {
		res, _ := rc.get("/", "X-Forwarded-For: 10.0.0.1, 198.51.100.7\r\n")
		want := 200
		if i > 5 {
			want = 429
		}
		if res.StatusCode != want {
			t.Fatalf("request %d: status %d, want %d", i, res.StatusCode, want)
		}
		if want == 429 {
			rc.expectClosed()
			rc = dialRaw(t, addr)
		}
	}
	rc = dialRaw(t, addr)
	if res, _ := rc.get("/", "X-Forwarded-For: 198.51.100.8\r\n"); res.StatusCode != 200 {
		t.Fatalf("another client: %d", res.StatusCode)
	}
	ts, err := e.Table("per_client", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts.Entries) != 2 || ts.Entries[0].Key != "198.51.100.7" || ts.Entries[0].Counters["http_req_rate"] != 8 || ts.Entries[0].Counters["http_err_rate"] != 3 {
		t.Fatalf("table: %+v", ts)
	}
	if _, err := e.Table("nosuch", 0); err == nil {
		t.Fatal("unknown table: no error")
	}
}

// TestTCPConnectionRules: reject by source, and a per-source connection
// limit through src_conn_cur.
func TestTCPConnectionRules(t *testing.T) {
	addr, _, e := rulesEngine(t, nil, func(c *Config) {
		c.Tables = []StickTable{{Name: "fe", Size: 100, Expire: time.Minute, Store: []string{"conn_cur", "conn_rate(10s)"}}}
		c.Frontends[0].TCPConnectionRules = []TCPRule{
			{Action: "reject", If: "{ src 192.0.2.0/24 }"},
			{Action: "track-sc1", Key: "src"},
			{Action: "reject", If: "{ sc1_conn_cur gt 2 }"},
		}
	})
	c1, c2 := dialRaw(t, addr), dialRaw(t, addr)
	c1.get("/")
	c2.get("/")
	// The third is refused at accept and closed at once: the reset can
	// reach its dial before connect returns, or else its first read.
	if c3, err := net.Dial("tcp", addr); err == nil {
		c3.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) // the close may come first
		c3.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := c3.Read(make([]byte, 1))
		c3.Close()
		if ne, ok := err.(net.Error); err == nil || ok && ne.Timeout() {
			t.Fatalf("third connection not closed by the proxy: %v", err)
		}
	} else if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatal(err)
	}
	c1.c.Close()
	// c1's end releases its tracker before it leaves actConn (end, then
	// connDone); a fixed sleep was too short on a loaded machine, where
	// c1 may be parked in the idle poller.
	waitFor(t, "c1's end", func() bool { return e.actConn.Load() <= 1 })
	c4 := dialRaw(t, addr)
	if res, _ := c4.get("/"); res.StatusCode != 200 {
		t.Fatalf("after a close: %d", res.StatusCode)
	}
	if n := e.Frontends()[0].DeniedConn; n != 1 {
		t.Fatalf("DeniedConn = %d, want 1", n)
	}
}

// TestCurlRecipe runs the HSTS + deny recipe with curl.
func TestCurlRecipe(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl not installed (CI=true): run scripts/need.sh curl:curl")
		}
		t.Skip("skipping: curl not installed (run: sudo scripts/need.sh curl:curl)")
	}
	addr, _, _ := rulesEngine(t, []HTTPRule{{Action: "deny", If: "{ path_beg /admin }"}}, func(c *Config) {
		c.Frontends[0].HTTPResponseRules = []HTTPRule{{Action: "set-header", Name: "Strict-Transport-Security", Value: "max-age=31536000"}}
	})
	out, err := exec.Command(curl, "-sS", "-i", "--max-time", "5", "http://"+addr+"/").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Strict-Transport-Security: max-age=31536000") {
		t.Fatalf("curl /: %v\n%s", err, out)
	}
	out, err = exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--path-as-is", "--max-time", "5", "http://"+addr+"/x/../%61dmin").CombinedOutput()
	if err != nil || string(out) != "403" {
		t.Fatalf("curl /x/../%%61dmin: %v %s", err, out)
	}
	_ = net.IPv4len
}

func TestStickTableConcurrent(t *testing.T) {
	st, _ := compileStickTable(StickTable{Name: "t", Size: 50, Expire: time.Minute, Store: []string{"conn_cur", "http_req_rate(1s)", "http_err_cnt"}})
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func(g int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 2000; i++ {
				a := netip.AddrFrom4([4]byte{10, 0, byte(g), byte(i % 100)})
				if e := st.track(a, nil, false); e != nil {
					st.value(e, ctrReqRate)
					st.release(e, 404, 10, 10)
				}
				st.lookup(a, ctrConnCur, time.Now().UnixNano())
			}
		}(g)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	if st.n > 50 {
		t.Fatalf("n = %d", st.n)
	}
	for e := st.head; e != nil; e = e.next {
		if e.refs != 0 || e.cnt[ctrConnCur] != 0 {
			t.Fatalf("entry %v: refs %d conn_cur %d after every release", e.addr, e.refs, e.cnt[ctrConnCur])
		}
	}
}

// TestStickTableKeptAcrossReload: an unchanged table keeps its counters;
// a changed one starts empty.
func TestStickTableKeptAcrossReload(t *testing.T) {
	mk := func(size int) *Config {
		cfg := testConfig(srv("s1", "127.0.0.1:1"))
		cfg.Tables = []StickTable{{Name: "fe", Size: size, Expire: time.Minute, Store: []string{"http_req_cnt"}}}
		cfg.Frontends[0].HTTPRequestRules = []HTTPRule{{Action: "track-sc0"}}
		return cfg
	}
	e, err := New(mk(10), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb := e.gen.Load().tables["fe"]
	tb.release(tb.track(netip.MustParseAddr("192.0.2.1"), nil, false), 200, 0, 0)
	if err := e.Reload(mk(10)); err != nil {
		t.Fatal(err)
	}
	if ts, _ := e.Table("fe", 0); len(ts.Entries) != 1 {
		t.Fatalf("after an unchanged reload: %+v", ts)
	}
	if err := e.Reload(mk(20)); err != nil {
		t.Fatal(err)
	}
	if ts, _ := e.Table("fe", 0); len(ts.Entries) != 0 || ts.Size != 20 {
		t.Fatalf("after a changed reload: %+v", ts)
	}
}

// TestStickFetches: every counter fetch form and operator.
func TestStickFetches(t *testing.T) {
	tb, _ := compileStickTable(StickTable{Name: "t", Size: 10, Expire: time.Minute,
		Store: []string{"conn_cur", "conn_cnt", "conn_rate(10s)", "http_req_cnt", "http_req_rate(10s)", "http_err_cnt", "http_err_rate(10s)", "bytes_in_rate(10s)", "bytes_out_rate(10s)"}})
	other, _ := compileStickTable(StickTable{Name: "o", Size: 10, Expire: time.Minute, Store: []string{"conn_cur"}})
	src := netip.MustParseAddr("192.0.2.7")
	for i := 0; i < 3; i++ {
		tb.release(tb.track(src, nil, false), 404, 100, 1000)
	}
	ct := &connTrack{}
	ct.sc[1] = scTrack{t: tb, e: tb.track(src, nil, true)}
	rs := &ruleState{}
	rs.sc[0] = scTrack{t: tb, e: tb.track(src, nil, false)}
	env := &aclEnv{tables: map[string]*stickTable{"t": tb, "o": other}, defTable: tb}
	m := &matchCtx{src: src, rs: rs, ct: ct}
	tests := []struct {
		cond string
		want bool
	}{
		{"{ sc_http_req_rate(0) eq 4 }", true},
		{"{ sc0_http_req_rate gt 3 }", true},
		{"{ sc0_http_req_rate gt 4 }", false},
		{"{ sc0_http_req_rate ge 4 }", true},
		{"{ sc0_http_req_rate lt 4 }", false},
		{"{ sc0_http_req_rate le 4 }", true},
		{"{ sc0_http_req_cnt 4 }", true},
		{"{ sc0_http_err_cnt eq 3 }", true},
		{"{ sc_http_err_rate(0) eq 3 }", true},
		{"{ sc0_conn_cur eq 2 }", true}, // one request and one connection hold it
		{"{ sc1_conn_cnt eq 1 }", true}, // the connection slot
		{"{ sc1_conn_rate eq 1 }", true},
		{"{ sc_bytes_in_rate(0) eq 300 }", true},
		{"{ sc0_bytes_out_rate eq 3000 }", true},
		{"{ sc2_conn_cur ge 0 }", false}, // slot 2 tracks nothing
		{"{ src_conn_cur eq 2 }", true},
		{"{ src_http_req_rate(t) eq 4 }", true},
		{"{ src_conn_cur(o) eq 0 }", true},       // not in that table
		{"{ src_http_req_rate(o) ge 0 }", false}, // not stored there
		{"{ sc0_http_req_rate 1 2 4 }", true},
		{"!{ sc0_http_req_rate gt 100 }", true},
	}
	for _, tt := range tests {
		c, err := compileCond(tt.cond, false, env)
		if err != nil {
			t.Errorf("%s: %v", tt.cond, err)
			continue
		}
		if got := c.eval(m); got != tt.want {
			t.Errorf("%s = %v, want %v", tt.cond, got, tt.want)
		}
	}
	for _, bad := range []string{"{ sc_http_req_rate(3) gt 1 }", "{ sc0_gpc0 gt 1 }", "{ src_conn_cur(nosuch) gt 1 }", "{ sc0_conn_cur gt }", "{ sc0_conn_cur gt 1 2 }", "{ var(sess.x) a }"} {
		if _, err := compileCond(bad, false, env); err == nil {
			t.Errorf("%s compiled", bad)
		}
	}
}

// TestTCPContentRules: in mode tcp, content rules track the source and
// reject beyond two concurrent sessions; the session log says PR.
func TestTCPContentRules(t *testing.T) {
	ln := serveLoopback(t, func(c net.Conn) { io.Copy(c, c) })
	cfg := testConfig(srv("db", ln.Addr().String()))
	cfg.Frontends[0].Mode, cfg.Backends[0].Mode = ModeTCP, ModeTCP
	cfg.Tables = []StickTable{{Name: "fe", Size: 10, Expire: time.Minute, Store: []string{"conn_cur"}}}
	cfg.Frontends[0].ACLs = []ACL{{Name: "busy", Criterion: "sc0_conn_cur", Values: []string{"gt", "2"}}}
	cfg.Frontends[0].TCPContentRules = []TCPRule{
		{Action: "reject", If: "{ src 192.0.2.1 }"},
		{Action: "track-sc0", Key: "src"},
		{Action: "reject", If: "busy"},
	}
	e, addr, sink := startEngine(t, cfg)
	echo := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "ping")
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			return nil
		}
		return c
	}
	c1, c2 := echo(), echo()
	if c1 == nil || c2 == nil {
		t.Fatal("first sessions refused")
	}
	if c3 := echo(); c3 != nil {
		t.Fatal("third concurrent session accepted")
	}
	if rec := sink.last(t); rec.Termination != "PR" {
		t.Errorf("rejected session logged %q", rec.Termination)
	}
	c1.Close()
	waitFor(t, "the session to end", func() bool {
		ts, _ := e.Table("fe", 0)
		return len(ts.Entries) == 1 && ts.Entries[0].Counters["conn_cur"] == 1
	})
	if c4 := echo(); c4 == nil {
		t.Fatal("session refused after one ended")
	}
	cfg.Frontends[0].Mode = ModeHTTP
	cfg.Backends[0].Mode = ModeHTTP
	if _, _, err := compile(cfg, newRegistry()); err == nil || !strings.Contains(err.Error(), "need mode tcp") {
		t.Errorf("content rules in mode http: %v", err)
	}
}

func TestTableTopEntries(t *testing.T) {
	cfg := testConfig(srv("s1", "127.0.0.1:1"))
	cfg.Tables = []StickTable{{Name: "t", Size: 100, Expire: time.Minute, Store: []string{"http_req_cnt", "http_req_rate(10s)"}}}
	e, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb := e.gen.Load().tables["t"]
	for i := 1; i <= 50; i++ {
		a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		for j := 0; j < (i*37)%50+1; j++ { // counts 1..50 in a scrambled order
			tb.release(tb.track(a, nil, false), 200, 0, 0)
		}
	}
	ts, err := e.Table("t", 5)
	if err != nil {
		t.Fatal(err)
	}
	if ts.Used != 50 || len(ts.Entries) != 5 {
		t.Fatalf("used %d entries %d", ts.Used, len(ts.Entries))
	}
	for i, en := range ts.Entries {
		if want := uint64(50 - i); en.Counters["http_req_rate"] != want {
			t.Errorf("entry %d: %s rate %d, want %d", i, en.Key, en.Counters["http_req_rate"], want)
		}
	}
	if all, _ := e.Table("t", 0); len(all.Entries) != 50 {
		t.Errorf("max 0 listed %d", len(all.Entries))
	}
}

// TestStickTableShardedBounded: a large (sharded) table stays within its
// size under a flood of spoofed keys.
func TestStickTableShardedBounded(t *testing.T) {
	st, err := compileStickTable(StickTable{Name: "t", Size: 5000, Expire: time.Minute, Store: []string{"http_req_rate(10s)"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.sub) != tableShards {
		t.Fatalf("%d shards", len(st.sub))
	}
	held := st.track(netip.MustParseAddr("2001:db8::1"), nil, false)
	for i := 0; i < 100000; i++ {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if e := st.track(a, nil, false); e != nil {
			st.release(e, 200, 0, 0)
		}
	}
	total, sizes := 0, 0
	for _, sh := range st.sub {
		if sh.n > sh.size || len(sh.byAddr) > sh.size {
			t.Fatalf("shard holds %d of %d", sh.n, sh.size)
		}
		total += sh.n
		sizes += sh.size
	}
	if sizes != 5000 || total > 5000 || total < 4000 {
		t.Fatalf("shards: %d entries, sizes add up to %d", total, sizes)
	}
	if v, ok := st.value(held, ctrReqRate); !ok || v != 1 {
		t.Fatalf("held entry: %d %v", v, ok)
	}
	if v, _ := st.lookup(netip.MustParseAddr("2001:db8::1"), ctrReqRate, time.Now().UnixNano()); v != 1 {
		t.Fatalf("lookup of the held entry = %d", v)
	}
}

// TestDenyBySource: a deny on the source address, with an allow for an
// exception ahead of it.
func TestDenyBySource(t *testing.T) {
	addr, _, _ := rulesEngine(t, []HTTPRule{
		{Action: "allow", If: "{ src 127.0.0.1 } { path_beg /public }"},
		{Action: "deny", Unless: "{ src 10.0.0.0/8 }"},
	})
	rc := dialRaw(t, addr)
	if res, _ := rc.get("/public/x"); res.StatusCode != 200 {
		t.Fatalf("allowed path: %d", res.StatusCode)
	}
	if res, _ := rc.get("/private"); res.StatusCode != 403 {
		t.Fatalf("loopback source not denied: %d", res.StatusCode)
	}
	rc.expectClosed()
}
