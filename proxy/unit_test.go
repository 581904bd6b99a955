package proxy

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/proxy/h1"
)

func parseReq(t *testing.T, raw string) *h1.Request {
	t.Helper()
	var r h1.Request
	if err := h1.ParseRequest([]byte(raw), &r); err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return &r
}

func TestACLMatching(t *testing.T) {
	tests := []struct {
		acl  ACL
		req  string
		src  string
		want bool
	}{
		{ACL{Criterion: "path", Values: []string{"/a"}}, "GET /a?x HTTP/1.1\r\n\r\n", "", true},
		{ACL{Criterion: "path", Values: []string{"/a"}}, "GET /ab HTTP/1.1\r\n\r\n", "", false},
		{ACL{Criterion: "path", Values: []string{"/p"}}, "GET http://h:80/p?q HTTP/1.1\r\n\r\n", "", true},
		{ACL{Criterion: "path_beg", Values: []string{"/x", "/static/"}}, "GET /static/a.js HTTP/1.1\r\n\r\n", "", true},
		{ACL{Criterion: "path_beg", Values: []string{"/STATIC/"}}, "GET /static/a.js HTTP/1.1\r\n\r\n", "", false},
		{ACL{Criterion: "path_beg", IgnoreCase: true, Values: []string{"/STATIC/"}}, "GET /static/a.js HTTP/1.1\r\n\r\n", "", true},
		{ACL{Criterion: "path_end", Values: []string{".png"}}, "GET /a.png?x=.js HTTP/1.1\r\n\r\n", "", true},
		{ACL{Criterion: "path_end", Values: []string{".png"}}, "GET /a.PNG HTTP/1.1\r\n\r\n", "", false},
		{ACL{Criterion: "path_reg", Values: []string{`^/api/v[0-9]+/`}}, "GET /api/v2/x HTTP/1.1\r\n\r\n", "", true},
		{ACL{Criterion: "path_reg", IgnoreCase: true, Values: []string{`^/API/`}}, "GET /api/x HTTP/1.1\r\n\r\n", "", true},
		{ACL{Criterion: "path_dir", Values: []string{"img"}}, "GET /a/img/b HTTP/1.1\r\n\r\n", "", true},
		{ACL{Criterion: "path_dir", Values: []string{"img"}}, "GET /a/imgs/b HTTP/1.1\r\n\r\n", "", false},
		{ACL{Criterion: "hdr(host)", IgnoreCase: true, Values: []string{"www.example.com"}}, "GET / HTTP/1.1\r\nHost: WWW.Example.com\r\n\r\n", "", true},
		{ACL{Criterion: "hdr(Host)", Values: []string{"www.example.com"}}, "GET / HTTP/1.1\r\nHost: WWW.Example.com\r\n\r\n", "", false},
		{ACL{Criterion: "hdr_beg(host)", Values: []string{"api."}}, "GET / HTTP/1.1\r\nHost: api.x\r\n\r\n", "", true},
		{ACL{Criterion: "hdr_end(host)", Values: []string{".example.com"}}, "GET / HTTP/1.1\r\nhost: a.example.com\r\n\r\n", "", true},
		{ACL{Criterion: "hdr(x-a)", Values: []string{"2"}}, "GET / HTTP/1.1\r\nX-A: 1\r\nX-A: 2\r\n\r\n", "", true},
		{ACL{Criterion: "hdr(x-b)", Values: []string{"2"}}, "GET / HTTP/1.1\r\nX-A: 2\r\n\r\n", "", false},
		{ACL{Criterion: "method", Values: []string{"GET", "HEAD"}}, "HEAD / HTTP/1.1\r\n\r\n", "", true},
		{ACL{Criterion: "method", Values: []string{"GET"}}, "POST / HTTP/1.1\r\n\r\n", "", false},
		{ACL{Criterion: "src", Values: []string{"10.0.0.0/8", "192.168.1.5"}}, "GET / HTTP/1.1\r\n\r\n", "10.2.3.4", true},
		{ACL{Criterion: "src", Values: []string{"10.0.0.0/8", "192.168.1.5"}}, "GET / HTTP/1.1\r\n\r\n", "192.168.1.6", false},
		{ACL{Criterion: "src", Values: []string{"::1"}}, "GET / HTTP/1.1\r\n\r\n", "::1", true},
	}
	for _, tt := range tests {
		tt.acl.Name = "t"
		a, err := compileACL(tt.acl)
		if err != nil {
			t.Fatalf("%+v: %v", tt.acl, err)
		}
		r := parseReq(t, tt.req)
		src := netip.MustParseAddr("127.0.0.1")
		if tt.src != "" {
			src = netip.MustParseAddr(tt.src)
		}
		m := matchCtx{req: r, path: requestPath(r.URI), src: src}
		if got := a.match(&m); got != tt.want {
			t.Errorf("%s %v on %q from %s: %v, want %v", tt.acl.Criterion, tt.acl.Values, tt.req, src, got, tt.want)
		}
	}
	for _, bad := range []ACL{
		{Name: "x", Criterion: "url_beg", Values: []string{"/"}},
		{Name: "x", Criterion: "hdr", Values: []string{"a"}},
		{Name: "x", Criterion: "path(x)", Values: []string{"a"}},
		{Name: "x", Criterion: "src", Values: []string{"10.0.0.0/33"}},
		{Name: "x", Criterion: "path_reg", Values: []string{"("}},
		{Name: "x", Criterion: "path"},
	} {
		if _, err := compileACL(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestConditions(t *testing.T) {
	yes := &acl{kind: aclMethod, vals: [][]byte{[]byte("GET")}}
	no := &acl{kind: aclMethod, vals: [][]byte{[]byte("PUT")}}
	named := map[string][]*acl{"t": {yes}, "f": {no}, "either": {no, yes}}
	m := &matchCtx{req: parseReq(t, "GET / HTTP/1.1\r\n\r\n")}
	tests := []struct {
		expr   string
		unless bool
		want   bool
	}{
		{"t", false, true},
		{"f", false, false},
		{"!f", false, true},
		{"! f", false, true},
		{"t f", false, false},
		{"t !f", false, true},
		{"f || t", false, true},
		{"f or t", false, true},
		{"f || f", false, false},
		{"t f || f t || t t", false, true},
		{"either", false, true},
		{"t", true, false},
		{"f", true, true},
	}
	for _, tt := range tests {
		c, err := compileCondition(tt.expr, tt.unless, named)
		if err != nil {
			t.Fatalf("%q: %v", tt.expr, err)
		}
		if got := c.eval(m); got != tt.want {
			t.Errorf("%q unless=%v: %v, want %v", tt.expr, tt.unless, got, tt.want)
		}
	}
	for _, bad := range []string{"", "||", "t ||", "|| t", "nope", "t !", "!"} {
		if _, err := compileCondition(bad, false, named); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func testBackendRuntime(t *testing.T, algo Balance, weights ...int) *backend {
	t.Helper()
	var servers []Server
	for i, w := range weights {
		servers = append(servers, Server{Name: string(rune('a' + i)), Address: "127.0.0.1:1", Weight: w})
	}
	cfg := testConfig(servers...)
	cfg.Backends[0].Balance = algo
	g, _, err := compile(cfg, newRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return g.backends["be"]
}

func pickSeq(t *testing.T, b *backend, n int, src string) string {
	t.Helper()
	var sb strings.Builder
	addr := netip.MustParseAddr(src)
	for i := 0; i < n; i++ {
		r, err := b.acquire(nil, addr, nil, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		sb.WriteString(r.srv.name)
		b.release(r.srv)
	}
	return sb.String()
}

func TestBalancingOrder(t *testing.T) {
	if got := pickSeq(t, testBackendRuntime(t, BalanceRoundRobin, 1, 1, 1), 6, "1.1.1.1"); got != "abcabc" {
		t.Errorf("rr equal: %s", got)
	}
	if got := pickSeq(t, testBackendRuntime(t, BalanceRoundRobin, 5, 1, 1), 7, "1.1.1.1"); got != "aabacaa" {
		t.Errorf("smooth rr 5:1:1: %s", got)
	}
	if got := pickSeq(t, testBackendRuntime(t, BalanceRoundRobin, 0, 1), 3, "1.1.1.1"); got != "bbb" {
		t.Errorf("weight 0: %s", got)
	}
	if got := pickSeq(t, testBackendRuntime(t, BalanceFirst, 1, 1), 3, "1.1.1.1"); got != "aaa" {
		t.Errorf("first: %s", got)
	}
	b := testBackendRuntime(t, BalanceSource, 1, 1, 1)
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		src := netip.AddrFrom4([4]byte{10, 0, byte(i), 1}).String()
		s := pickSeq(t, b, 3, src)
		if s[0] != s[1] || s[1] != s[2] {
			t.Fatalf("source not stable for %s: %s", src, s)
		}
		seen[s[:1]] = true
	}
	if len(seen) != 3 {
		t.Errorf("source hashing used %d of 3 servers", len(seen))
	}
	// leastconn with weights: a (w2) takes two requests for each of b's.
	lc := testBackendRuntime(t, BalanceLeastConn, 2, 1)
	counts := map[string]int{}
	for i := 0; i < 6; i++ {
		r, err := lc.acquire(nil, netip.Addr{}, nil, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		counts[r.srv.name]++ // held, not released
	}
	if counts["a"] != 4 || counts["b"] != 2 {
		t.Errorf("weighted leastconn: %v", counts)
	}
}

func TestNormalizeBind(t *testing.T) {
	for in, want := range map[string]string{
		"*:80":           "tcp4|0.0.0.0:80",
		":80":            "tcp4|0.0.0.0:80",
		"0.0.0.0:80":     "tcp4|0.0.0.0:80",
		"10.10.0.100:80": "tcp4|10.10.0.100:80",
		"[::]:80":        "tcp6|[::]:80",
		"[::1]:8080":     "tcp6|[::1]:8080",
	} {
		if got, err := normalizeBind(in); err != nil || got != want {
			t.Errorf("%s: %s %v, want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"80", "example.com:80", "1.2.3.4:"} {
		if _, err := normalizeBind(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	mut := []func(c *Config){
		func(c *Config) { c.Frontends[0].DefaultBackend = "nope" },
		func(c *Config) { c.Backends[0].ConnectTimeout = 0 },
		func(c *Config) { c.Frontends[0].KeepAliveTimeout = 0 },
		func(c *Config) { c.Frontends[0].ForwardFor = &ForwardFor{} },
		func(c *Config) { c.Frontends[0].Stats = &Stats{} },
		func(c *Config) { c.Backends[0].Mode = ModeTCP },
		func(c *Config) { c.Frontends[0].Binds = nil },
		func(c *Config) {
			c.Frontends[0].UseBackends = []UseBackend{{Backend: "be", If: "undefined_acl"}}
		},
		func(c *Config) { c.Frontends = append(c.Frontends, c.Frontends[0]) },
		func(c *Config) { c.Backends[0].Cookie = &Cookie{Mode: CookieRewrite} },
		func(c *Config) {
			c.Frontends[0].ErrorFiles = []ErrorFile{{Code: 503, File: "/nonexistent/x"}}
		},
	}
	for i, m := range mut {
		cfg := testConfig(srv("a", "127.0.0.1:1"))
		m(cfg)
		if _, err := New(cfg, Options{}); err == nil {
			t.Errorf("mutation %d accepted", i)
		}
	}
}

func TestCookieHeaderRewrite(t *testing.T) {
	ins := &cookieCfg{name: "SERVERID", mode: CookieInsert, indirect: true}
	pre := &cookieCfg{name: "JS", mode: CookiePrefix}
	tests := []struct {
		ck   *cookieCfg
		in   string
		want string
	}{
		{ins, "SERVERID=s1", ""},
		{ins, "a=1; SERVERID=s1; b=2", "Cookie: a=1; b=2\r\n"},
		{ins, "SERVERID=s1;a=1", "Cookie: a=1\r\n"},
		{ins, "a=1", "Cookie: a=1\r\n"},
		{pre, "JS=s1~abc; x=y", "Cookie: JS=abc; x=y\r\n"},
		{pre, "JS=plain", "Cookie: JS=plain\r\n"},
	}
	for _, tt := range tests {
		h := h1.Header{Name: []byte("Cookie"), Value: []byte(tt.in), Kind: h1.KindCookie}
		if got := string(appendCookieHeader(nil, &h, tt.ck)); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.in, got, tt.want)
		}
	}
	ck := &cookieCfg{name: "SRV", domain: ".example.com", httpOnly: true, secure: true}
	if got := string(appendInsertedCookie(nil, ck, "s1")); got != "Set-Cookie: SRV=s1; path=/; domain=.example.com; HttpOnly; Secure\r\n" {
		t.Errorf("inserted %q", got)
	}
	if got := string(appendInsertedCookie(nil, &cookieCfg{name: "SRV"}, "")); got != "Set-Cookie: SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/\r\n" {
		t.Errorf("removal %q", got)
	}
}

func TestTunnelIdlePrecedence(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		feTun, feClient, beTun, beServer time.Duration
		fixed                            bool
		want                             time.Duration
	}{
		{0, 5 * s, 0, 7 * s, false, 7 * s},     // neither: max(client, server)
		{0, 5 * s, 3 * s, 7 * s, false, 3 * s}, // the backend's (inherited)
		{2 * s, 5 * s, 3 * s, 7 * s, false, 2 * s},
		{2 * s, 5 * s, 3 * s, 7 * s, true, 3 * s}, // the backend's own wins
		{2 * s, 5 * s, 0, 7 * s, true, 2 * s},
	} {
		fe := &frontend{tunnel: tc.feTun, client: tc.feClient}
		b := &backend{tunnel: tc.beTun, tunnelFixed: tc.fixed, server: tc.beServer}
		if got := tunnelIdle(fe, b); got != tc.want {
			t.Errorf("%+v: got %v", tc, got)
		}
	}
}

func TestCheckBasicAuth(t *testing.T) {
	auth := []string{"admin:secret", "ops:a:b"}
	for _, tc := range []struct {
		user, pass string
		want       bool
	}{
		{"admin", "secret", true},
		{"ops", "a:b", true},
		{"admin", "secre", false},           // shorter
		{"admin", "secret-and-more", false}, // longer
		{"admin", "", false},
		{"", "", false},
		{"adminx", "secret", false},
		{"ops", "a", false},
	} {
		if got := CheckBasicAuth(auth, tc.user, tc.pass); got != tc.want {
			t.Errorf("%q/%q: got %v", tc.user, tc.pass, got)
		}
	}
	if !CheckBasicAuth(nil, "anyone", "x") {
		t.Error("no auth configured should allow")
	}
}
