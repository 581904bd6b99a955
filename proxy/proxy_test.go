package proxy

import (
	"fmt"
	"github.com/lbd-ha/lbd/checks"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRoundRobinAlternatesAndWeights(t *testing.T) {
	a, b := newBackend(t, "a", nil), newBackend(t, "b", nil)
	cfg := testConfig(srv("a", a.addr()), srv("b", b.addr()))
	_, addr, sink := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	var got []string
	for i := 0; i < 6; i++ {
		res, body := rc.get("/")
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		got = append(got, strings.TrimPrefix(body, "hello from "))
	}
	if s := strings.Join(got, ""); s != "ababab" && s != "bababa" {
		t.Errorf("order %s, want alternation", s)
	}
	rec := sink.last(t)
	if rec.Status != 200 || rec.Backend != "be" || rec.Termination != "----" || rec.RequestLine != "GET / HTTP/1.1" {
		t.Errorf("record %+v", rec)
	}

	// Weights 3:1 -> smooth sequence with 3 a's per b.
	cfg2 := testConfig(Server{Name: "a", Address: a.addr(), Weight: 3}, Server{Name: "b", Address: b.addr(), Weight: 1})
	_, addr2, _ := startEngine(t, cfg2)
	rc2 := dialRaw(t, addr2)
	counts := map[string]int{}
	seq := ""
	for i := 0; i < 8; i++ {
		_, body := rc2.get("/")
		n := strings.TrimPrefix(body, "hello from ")
		counts[n]++
		seq += n
	}
	if counts["a"] != 6 || counts["b"] != 2 || strings.Contains(seq, "bb") {
		t.Errorf("weighted sequence %s", seq)
	}
}

func TestCookieInsertIndirectNocache(t *testing.T) {
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "SERVERID=fromserver; path=/")
		w.Header().Add("Set-Cookie", "app=1")
		fmt.Fprintf(w, "a cookie=%q", r.Header.Get("Cookie"))
	})
	b := newBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "b cookie=%q", r.Header.Get("Cookie"))
	})
	cfg := testConfig(srv("s1", a.addr()), srv("s2", b.addr()))
	cfg.Backends[0].Cookie = &Cookie{Name: "SERVERID", Mode: CookieInsert, Indirect: true, NoCache: true, HTTPOnly: true}
	cfg.Backends[0].Redispatch = true
	_, addr, sink := startEngine(t, cfg)

	rc := dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	head := rc.rawHead()
	// First request has no cookie: served by s1 (first in RR), cookie inserted.
	if !strings.Contains(head, "\r\nSet-Cookie: SERVERID=s1; path=/; HttpOnly\r\n") {
		t.Fatalf("no inserted cookie in %q", head)
	}
	if strings.Contains(head, "fromserver") {
		t.Errorf("server's own SERVERID cookie not removed: %q", head)
	}
	if !strings.Contains(head, "\r\nSet-Cookie: app=1\r\n") {
		t.Errorf("other Set-Cookie lost: %q", head)
	}
	if !strings.Contains(head, "\r\nCache-Control: private\r\n") {
		t.Errorf("nocache: no Cache-Control private: %q", head)
	}
	if rec := sink.last(t); rec.Termination != "--NI" {
		t.Errorf("termination %q, want --NI", rec.Termination)
	}
}

func TestCookiePersistenceAcrossRequests(t *testing.T) {
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "a|%s", r.Header.Get("Cookie"))
	})
	b := newBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "b|%s", r.Header.Get("Cookie"))
	})
	cfg := testConfig(srv("s1", a.addr()), srv("s2", b.addr()))
	cfg.Backends[0].Cookie = &Cookie{Name: "SERVERID", Indirect: true, NoCache: true}
	cfg.Backends[0].Redispatch = true
	e, addr, sink := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	for i := 0; i < 4; i++ {
		res, body := rc.get("/", "Cookie: x=1; SERVERID=s2; y=2\r\n")
		if body != "b|x=1; y=2" {
			t.Fatalf("request %d: body %q (cookie must go to s2, stripped)", i, body)
		}
		if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Fatalf("valid cookie with indirect must get no Set-Cookie, got %q", sc)
		}
	}
	if rec := sink.last(t); rec.Termination != "--VN" || rec.Server != "s2" {
		t.Errorf("record term %q server %q, want --VN s2", rec.Termination, rec.Server)
	}
	// Only cookie in the header: the header is dropped.
	_, body := rc.get("/", "Cookie: SERVERID=s1\r\n")
	if body != "a|" {
		t.Errorf("body %q, want a with no Cookie header", body)
	}
	// Server s2 down: redispatched and given a new cookie.
	if err := e.SetServerState("be", "s2", ServerState{Up: false}); err != nil {
		t.Fatal(err)
	}
	res, body := rc.get("/", "Cookie: SERVERID=s2\r\n")
	if !strings.HasPrefix(body, "a|") {
		t.Fatalf("body %q: want redispatch to s1", body)
	}
	if got := res.Header.Get("Set-Cookie"); got != "SERVERID=s1; path=/" {
		t.Errorf("Set-Cookie %q, want SERVERID=s1; path=/", got)
	}
	if rec := sink.last(t); rec.Termination != "--DI" {
		t.Errorf("termination %q, want --DI", rec.Termination)
	}
	// Drain: persistent traffic still reaches s2, new clients do not.
	e.SetServerState("be", "s2", ServerState{Up: true, Admin: checks.Drain})
	_, body = rc.get("/", "Cookie: SERVERID=s2\r\n")
	if !strings.HasPrefix(body, "b|") {
		t.Errorf("drain: persistent request went to %q", body)
	}
	for i := 0; i < 3; i++ {
		if _, body = rc.get("/"); !strings.HasPrefix(body, "a|") {
			t.Errorf("drain: new request went to %q", body)
		}
	}
	if err := e.SetServerState("be", "nope", ServerState{}); err == nil || !strings.Contains(err.Error(), "s1, s2") {
		t.Errorf("unknown server error %v should list names", err)
	}
}

func TestCookieRewriteAndPrefix(t *testing.T) {
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "JSESSIONID=abc; Path=/app")
		fmt.Fprintf(w, "%s", r.Header.Get("Cookie"))
	})
	for _, tc := range []struct {
		mode                        CookieMode
		wantSet, reqCookie, wantFwd string
	}{
		{CookieRewrite, "JSESSIONID=s1; Path=/app", "JSESSIONID=s1", "JSESSIONID=s1"},
		{CookiePrefix, "JSESSIONID=s1~abc; Path=/app", "JSESSIONID=s1~abc", "JSESSIONID=abc"},
	} {
		cfg := testConfig(srv("s1", a.addr()))
		cfg.Backends[0].Cookie = &Cookie{Name: "JSESSIONID", Mode: tc.mode}
		_, addr, _ := startEngine(t, cfg)
		rc := dialRaw(t, addr)
		res, _ := rc.get("/")
		if got := res.Header.Get("Set-Cookie"); got != tc.wantSet {
			t.Errorf("mode %d: Set-Cookie %q, want %q", tc.mode, got, tc.wantSet)
		}
		_, body := rc.get("/", "Cookie: "+tc.reqCookie+"\r\n")
		if body != tc.wantFwd {
			t.Errorf("mode %d: server saw Cookie %q, want %q", tc.mode, body, tc.wantFwd)
		}
	}
}

func TestForwardFor(t *testing.T) {
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%q", r.Header.Values("X-Forwarded-For"))
	})
	cfg := testConfig(srv("s1", a.addr()))
	cfg.Frontends[0].ForwardFor = &ForwardFor{Header: "X-Forwarded-For"}
	_, addr, _ := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	if _, body := rc.get("/", "X-Forwarded-For: 10.9.9.9\r\n"); body != `["10.9.9.9" "127.0.0.1"]` {
		t.Errorf("forwardfor: %s", body)
	}
	cfg2 := testConfig(srv("s1", a.addr()))
	cfg2.Backends[0].ForwardFor = &ForwardFor{Header: "X-Forwarded-For", Except: []string{"127.0.0.0/8"}}
	_, addr2, _ := startEngine(t, cfg2)
	if _, body := dialRaw(t, addr2).get("/"); body != `[]` {
		t.Errorf("forwardfor except: %s", body)
	}
	cfg3 := testConfig(srv("s1", a.addr()))
	cfg3.Backends[0].ForwardFor = &ForwardFor{IfNone: true, Header: "X-Client"}
	_, addr3, _ := startEngine(t, cfg3)
	a.setHandler(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "%q", r.Header.Values("X-Client")) })
	rc3 := dialRaw(t, addr3)
	if _, body := rc3.get("/", "X-Client: 1.2.3.4\r\n"); body != `["1.2.3.4"]` {
		t.Errorf("if-none with header: %s", body)
	}
	if _, body := rc3.get("/"); body != `["127.0.0.1"]` {
		t.Errorf("if-none without header: %s", body)
	}
}

func TestACLRouting(t *testing.T) {
	st, api, def := newBackend(t, "static", nil), newBackend(t, "api", nil), newBackend(t, "default", nil)
	cfg := testConfig(srv("d", def.addr()))
	cfg.Backends = append(cfg.Backends,
		testBackendCfg("static", srv("s", st.addr())),
		testBackendCfg("api", srv("a", api.addr())))
	fe := &cfg.Frontends[0]
	fe.ACLs = []ACL{
		{Name: "is_static", Criterion: "path_end", IgnoreCase: true, Values: []string{".png", ".css"}},
		{Name: "is_static", Criterion: "path_beg", Values: []string{"/static/"}},
		{Name: "host_api", Criterion: "hdr(host)", IgnoreCase: true, Values: []string{"api.example.com"}},
		{Name: "is_post", Criterion: "method", Values: []string{"POST"}},
		{Name: "local", Criterion: "src", Values: []string{"127.0.0.0/8"}},
	}
	fe.UseBackends = []UseBackend{
		{Backend: "static", If: "is_static !is_post"},
		{Backend: "api", If: "host_api local || is_post"},
	}
	_, addr, _ := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	cases := []struct{ req, want string }{
		{"GET /img/A.PNG HTTP/1.1\r\nHost: x\r\n\r\n", "static"},
		{"GET /static/x?y=.js HTTP/1.1\r\nHost: x\r\n\r\n", "static"},
		{"GET /index.html HTTP/1.1\r\nHost: API.example.com\r\n\r\n", "api"},
		{"POST /a.png HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi", "api"},
		{"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", "default"},
	}
	for _, c := range cases {
		rc.send(c.req)
		res, body := rc.resp("GET")
		if got := res.Header.Get("X-Server"); got != c.want {
			t.Errorf("%q -> %s (%s), want %s", c.req, got, body, c.want)
		}
	}
	// A '#' in the path is rejected with 400 and the connection closed.
	rc.send("GET /admin#.png HTTP/1.1\r\nHost: x\r\n\r\n")
	if res, _ := rc.resp("GET"); res.StatusCode != 400 {
		t.Errorf("fragment: status %d", res.StatusCode)
	}
	rc.expectClosed()
}

func TestNoBackend503AndErrorFile(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/503.http"
	if err := writeFile(file, "<h1>sorry</h1>"); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Frontends[0].DefaultBackend = ""
	cfg.Frontends[0].ErrorFiles = []ErrorFile{{Code: 503, File: file}}
	_, addr, sink := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	res, body := rc.get("/")
	if res.StatusCode != 503 || body != "<h1>sorry</h1>" {
		t.Errorf("got %d %q", res.StatusCode, body)
	}
	if rec := sink.last(t); rec.Status != 503 || rec.Server != "" {
		t.Errorf("record %+v", rec)
	}
}

func TestBackupAndLeastconnAndSource(t *testing.T) {
	a, b, bk := newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "bk", nil)
	cfg := testConfig(srv("a", a.addr()), srv("b", b.addr()), Server{Weight: 1, Name: "bk", Address: bk.addr(), Backup: true})
	e, addr, _ := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	for i := 0; i < 4; i++ {
		if res, _ := rc.get("/"); res.Header.Get("X-Server") == "bk" {
			t.Fatal("backup used while actives are up")
		}
	}
	e.SetServerState("be", "a", ServerState{Up: false})
	e.SetServerState("be", "b", ServerState{Up: true, Admin: checks.Maint})
	if res, _ := rc.get("/"); res.Header.Get("X-Server") != "bk" {
		t.Fatalf("backup not used when actives down: %s", res.Header.Get("X-Server"))
	}
	if !e.BackendUsable("be") {
		t.Error("backend with a backup up should be usable")
	}
	e.SetServerState("be", "bk", ServerState{Up: false})
	if e.BackendUsable("be") {
		t.Error("backend with all servers down should be unusable")
	}
	if res, _ := rc.get("/"); res.StatusCode != 503 {
		t.Errorf("all down: %d", res.StatusCode)
	}

	// leastconn: a slow server keeps its connection, the fast one gets the rest.
	release := make(chan struct{})
	slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("X-Server", "slow")
	})
	fast := newBackend(t, "fast", nil)
	cfg2 := testConfig(srv("slow", slow.addr()), srv("fast", fast.addr()))
	cfg2.Backends[0].Balance = BalanceLeastConn
	e2, addr2, _ := startEngine(t, cfg2)
	// Occupy: the first pick of leastconn is deterministic only by counts, so
	// send requests until one is stuck on slow.
	var wg sync.WaitGroup
	stuck := make(chan string, 10)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRaw(t, addr2)
			res, _ := c.get("/")
			stuck <- res.Header.Get("X-Server")
		}()
	}
	waitFor(t, "a request on slow", func() bool { return e2.Backends()[0].Servers[0].Sessions == 1 })
	rc2 := dialRaw(t, addr2)
	for i := 0; i < 5; i++ {
		if res, _ := rc2.get("/"); res.Header.Get("X-Server") != "fast" {
			t.Fatalf("leastconn sent request %d to %s while slow was busy", i, res.Header.Get("X-Server"))
		}
	}
	close(release)
	wg.Wait()

	// source: same client address -> same server.
	cfg3 := testConfig(srv("a", a.addr()), srv("b", b.addr()))
	cfg3.Backends[0].Balance = BalanceSource
	_, addr3, _ := startEngine(t, cfg3)
	rc3 := dialRaw(t, addr3)
	first, _ := rc3.get("/")
	for i := 0; i < 5; i++ {
		if res, _ := dialRaw(t, addr3).get("/"); res.Header.Get("X-Server") != first.Header.Get("X-Server") {
			t.Fatal("source hashing changed server for the same client")
		}
	}
}

func TestConnectionModes(t *testing.T) {
	var mu sync.Mutex
	remotes := map[string]bool{}
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes[r.RemoteAddr] = true
		mu.Unlock()
		fmt.Fprintf(w, "close=%v", r.Close)
	})
	count := func() int { mu.Lock(); defer mu.Unlock(); n := len(remotes); clear(remotes); return n }

	// keep-alive: one backend connection reused.
	_, addr, _ := startEngine(t, testConfig(srv("a", a.addr())))
	rc := dialRaw(t, addr)
	for i := 0; i < 5; i++ {
		if _, body := rc.get("/"); body != "close=false" {
			t.Fatalf("keep-alive body %q", body)
		}
	}
	if n := count(); n != 1 {
		t.Errorf("keep-alive used %d backend connections, want 1", n)
	}

	// http-server-close: client kept, a backend connection per request.
	cfg := testConfig(srv("a", a.addr()))
	cfg.Frontends[0].HTTPServerClose = true
	_, addr2, _ := startEngine(t, cfg)
	rc2 := dialRaw(t, addr2)
	for i := 0; i < 3; i++ {
		res, body := rc2.get("/")
		if body != "close=true" || res.Close {
			t.Fatalf("server-close: body %q close %v", body, res.Close)
		}
	}
	if n := count(); n != 3 {
		t.Errorf("server-close used %d backend connections, want 3", n)
	}

	// httpclose: both sides closed.
	cfg3 := testConfig(srv("a", a.addr()))
	cfg3.Frontends[0].HTTPClose = true
	_, addr3, _ := startEngine(t, cfg3)
	rc3 := dialRaw(t, addr3)
	res, _ := rc3.get("/")
	if !res.Close {
		t.Error("httpclose: no Connection: close to client")
	}
	rc3.expectClosed()

	// HTTP/1.0 client without keep-alive gets closed.
	rc4 := dialRaw(t, addr)
	rc4.send("GET / HTTP/1.0\r\n\r\n")
	rc4.resp("GET")
	rc4.expectClosed()
}

func TestBodiesChunkedExpectHead(t *testing.T) {
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/chunked" {
			w.Write([]byte("part1-"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part2"))
			return
		}
		fmt.Fprintf(w, "%s te=%v len=%d body=%s trailer=%s", r.Method, r.TransferEncoding, r.ContentLength, body, r.Trailer.Get("X-T"))
	})
	_, addr, _ := startEngine(t, testConfig(srv("a", a.addr())))
	rc := dialRaw(t, addr)
	rc.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: v\r\n\r\n")
	if _, body := rc.resp("POST"); body != "POST te=[chunked] len=-1 body=abcde trailer=v" {
		t.Errorf("chunked request: %q", body)
	}
	rc.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	if head := rc.rawHead(); !strings.HasPrefix(head, "HTTP/1.1 100 Continue") {
		t.Fatalf("no 100 Continue: %q", head)
	}
	rc.send("hello")
	if _, body := rc.resp("POST"); body != "POST te=[] len=5 body=hello trailer=" {
		t.Errorf("expect body: %q", body)
	}
	res, body := rc.get("/chunked")
	if body != "part1-part2" || len(res.TransferEncoding) != 1 {
		t.Errorf("chunked response: %q %v", body, res.TransferEncoding)
	}
	rc.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
	if res, body := rc.resp("HEAD"); res.StatusCode != 200 || body != "" {
		t.Errorf("HEAD: %d %q", res.StatusCode, body)
	}
	// Still usable after all of the above.
	if res, _ := rc.get("/"); res.StatusCode != 200 {
		t.Errorf("after: %d", res.StatusCode)
	}
	// Bare LF in a chunk size: 400, closed.
	rc.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n")
	if res, _ := rc.resp("POST"); res.StatusCode != 400 {
		t.Errorf("bare LF chunk: %d", res.StatusCode)
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		if !strings.Contains(string(buf[:n]), "Upgrade: websocket") || !strings.Contains(string(buf[:n]), "Connection: upgrade") {
			c.Write([]byte("HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\n"))
			return
		}
		c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
		io.Copy(c, c) // echo
	}()
	_, addr, _ := startEngine(t, testConfig(srv("ws", ln.Addr().String())))
	rc := dialRaw(t, addr)
	rc.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if head := rc.rawHead(); !strings.HasPrefix(head, "HTTP/1.1 101 ") {
		t.Fatalf("head %q", head)
	}
	rc.send("ping-frame")
	buf := make([]byte, 10)
	if _, err := io.ReadFull(rc.r, buf); err != nil || string(buf) != "ping-frame" {
		t.Fatalf("echo %q %v", buf, err)
	}
}

func TestTCPModeEcho(t *testing.T) {
	ln := serveLoopback(t, func(c net.Conn) { io.Copy(c, c); c.(*net.TCPConn).CloseWrite() })
	cfg := testConfig(srv("db", ln.Addr().String()))
	cfg.Frontends[0].Mode, cfg.Backends[0].Mode = ModeTCP, ModeTCP
	_, addr, sink := startEngine(t, cfg)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payload := strings.Repeat("0123456789", 100000)
	go func() { io.WriteString(c, payload); c.(*net.TCPConn).CloseWrite() }()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != payload {
		t.Fatalf("echo: %d bytes, err %v", len(got), err)
	}
	rec := sink.last(t)
	if !rec.TCP || rec.BytesRead != int64(len(payload)) || rec.Server != "db" || rec.Termination != "--" {
		t.Errorf("tcp record %+v", rec)
	}
}

func writeFile(name, s string) error {
	return os.WriteFile(name, []byte(s), 0o600)
}

func TestLargeBodiesAndPipelining(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			w.Write(body)
		case "/big":
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			io.WriteString(w, big)
		default:
			fmt.Fprintf(w, "%s", r.URL.Path)
		}
	})
	_, addr, _ := startEngine(t, testConfig(srv("a", a.addr())))
	rc := dialRaw(t, addr)
	rc.send(fmt.Sprintf("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(big), big))
	if _, body := rc.resp("POST"); body != big {
		t.Fatalf("1 MiB echo: got %d bytes", len(body))
	}
	// Chunked upload in many chunks, chunked (streamed) response.
	var sb strings.Builder
	sb.WriteString("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	for i := 0; i < len(big); i += 5000 {
		end := min(i+5000, len(big))
		fmt.Fprintf(&sb, "%x\r\n%s\r\n", end-i, big[i:end])
	}
	sb.WriteString("0\r\n\r\n")
	rc.send(sb.String())
	if _, body := rc.resp("POST"); body != big {
		t.Fatalf("chunked echo: got %d bytes", len(body))
	}
	if _, body := rc.get("/big"); body != big {
		t.Fatalf("big response: %d bytes", len(body))
	}
	// Three pipelined requests in one write.
	rc.send("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /3 HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"/1", "/2", "/3"} {
		if _, body := rc.resp("GET"); body != want {
			t.Errorf("pipelined: %q, want %q", body, want)
		}
	}
}

func TestStatsPageInFrontend(t *testing.T) {
	a := newBackend(t, "a", nil)
	cfg := testConfig(srv("a", a.addr()))
	cfg.Frontends[0].Stats = &Stats{URI: "/haproxy?stats", Realm: "Stats", Auth: []string{"admin:secret"}}
	sink := &logSink{}
	e, err := New(cfg, Options{AccessLog: sink.add, StatsHandler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "stats page csv=%v", r.URL.RawQuery == "stats;csv" || strings.HasSuffix(r.RequestURI, ";csv"))
	})})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown(t.Context()) })
	rc := dialRaw(t, e.BoundAddrs("fe")[0])
	res, _ := rc.get("/haproxy?stats")
	if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != `Basic realm="Stats"` {
		t.Fatalf("no auth: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	res, body := rc.get("/haproxy?stats;csv", "Authorization: Basic YWRtaW46c2VjcmV0\r\n")
	if res.StatusCode != 200 || body != "stats page csv=true" {
		t.Fatalf("stats: %d %q", res.StatusCode, body)
	}
	if res, _ := rc.get("/other"); res.Header.Get("X-Server") != "a" {
		t.Error("non-stats request not proxied")
	}
	if len(a.requests()) != 1 {
		t.Errorf("backend saw %d requests, want 1", len(a.requests()))
	}
	waitFor(t, "stats record", func() bool {
		for _, r := range sink.all() {
			if r.Server == "<STATS>" && r.Status == 200 {
				return true
			}
		}
		return false
	})
}

func TestInterimResponsesForwarded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		c.Read(buf)
		c.Write([]byte("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"))
		time.Sleep(20 * time.Millisecond)
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		c.Read(buf)
	}()
	_, addr, sink := startEngine(t, testConfig(srv("s", ln.Addr().String())))
	rc := dialRaw(t, addr)
	rc.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if head := rc.rawHead(); head != "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" {
		t.Fatalf("interim %q", head)
	}
	if res, body := rc.resp("GET"); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("final %d %q", res.StatusCode, body)
	}
	if rec := sink.last(t); rec.Status != 200 {
		t.Errorf("logged status %d", rec.Status)
	}
}
