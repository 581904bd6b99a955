package checks

import (
	"bufio"
	"context"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTimeoutsSplit(t *testing.T) {
	tests := []struct {
		in            Timeouts
		connect, read time.Duration
		whole         bool
	}{
		{Timeouts{Inter: 2 * time.Second}, 2 * time.Second, 2 * time.Second, true},
		{Timeouts{Inter: 2 * time.Second, Connect: 5 * time.Second}, 2 * time.Second, 2 * time.Second, true},
		{Timeouts{Inter: 2 * time.Second, Connect: 5 * time.Second, Check: 10 * time.Second}, 2 * time.Second, 10 * time.Second, false},
		{Timeouts{Inter: 2 * time.Second, Connect: time.Second, Check: 10 * time.Second}, time.Second, 10 * time.Second, false},
		{Timeouts{Inter: 2 * time.Second, Check: 500 * time.Millisecond}, 2 * time.Second, 500 * time.Millisecond, false},
		{Timeouts{}, DefaultInter, DefaultInter, true},
	}
	for _, tc := range tests {
		c, r, w := tc.in.Split()
		if c != tc.connect || r != tc.read || w != tc.whole {
			t.Errorf("%+v.Split() = %v %v %v, want %v %v %v", tc.in, c, r, w, tc.connect, tc.read, tc.whole)
		}
	}
}

func TestBuildRequest(t *testing.T) {
	tests := []struct {
		method, uri, version, host, addr string
		want                             string
	}{
		{"", "", "", "", "10.0.0.1:80", "OPTIONS / HTTP/1.0\r\n\r\n"},
		{"GET", "/health_check.php", "", "", "10.0.0.1:80", "GET /health_check.php HTTP/1.0\r\n\r\n"},
		{"GET", "/h", "HTTP/1.1", "", "10.0.0.1:80", "GET /h HTTP/1.1\r\nHost: 10.0.0.1\r\nConnection: close\r\n\r\n"},
		{"GET", "/h", "HTTP/1.1", "", "10.0.0.1:8080", "GET /h HTTP/1.1\r\nHost: 10.0.0.1:8080\r\nConnection: close\r\n\r\n"},
		{"HEAD", "/h", "HTTP/1.1", "www.example.com", "10.0.0.1:80", "HEAD /h HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n"},
		{"GET", "/h", "HTTP/1.0", "www", "10.0.0.1:80", "GET /h HTTP/1.0\r\nHost: www\r\n\r\n"},
		{"GET", "/", "HTTP/1.1", "", "[::1]:80", "GET / HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n"},
	}
	for _, tc := range tests {
		if got := string(BuildRequest(tc.method, tc.uri, tc.version, tc.host, tc.addr)); got != tc.want {
			t.Errorf("got %q want %q", got, tc.want)
		}
	}
}

func TestParseStatusLine(t *testing.T) {
	good := map[string]int{"HTTP/1.1 200 OK": 200, "HTTP/1.0 500 Internal Server Error\r": 500, "HTTP/1.1 301": 301, "HTTP/1.1 404 \r": 404}
	for in, want := range good {
		if got, ok := ParseStatusLine([]byte(in)); !ok || got != want {
			t.Errorf("%q: %d %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "HTTP/1.1", "HTTP/1.1 2OO OK", "HTTP/1.1 099 x", "HTTP/1.1  200", "FTP/1.1 200 OK", "HTTP/1.1 2000", "SSH-2.0-OpenSSH_9.2p1"} {
		if _, ok := ParseStatusLine([]byte(in)); ok {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestEvalResponse(t *testing.T) {
	re := regexp.MustCompile("^(2|5)0[0-9]$")
	tests := []struct {
		name   string
		in     string
		eof    bool
		exp    Expect
		done   bool
		code   Code
		status int
	}{
		{"200 ok", "HTTP/1.1 200 OK\r\n", false, Expect{}, true, L7OK, 200},
		{"302 ok", "HTTP/1.0 302 Found\r\nLocation: /\r\n\r\n", true, Expect{}, true, L7OK, 302},
		{"500 fails", "HTTP/1.1 500 Internal Server Error\r\n", false, Expect{}, true, L7STS, 500},
		{"404 fails", "HTTP/1.1 404 Not Found\r\n", false, Expect{}, true, L7STS, 404},
		{"partial line waits", "HTTP/1.1 20", false, Expect{}, false, "", 0},
		{"partial line at eof", "HTTP/1.1 20", true, Expect{}, true, L7RSP, 0},
		{"empty at eof", "", true, Expect{}, true, L7RSP, 0},
		{"garbage", "SSH-2.0-OpenSSH\r\n", false, Expect{}, true, L7RSP, 0},
		{"expect status hit", "HTTP/1.1 204 No Content\r\n", false, Expect{Status: 204}, true, L7OK, 204},
		{"expect status miss", "HTTP/1.1 200 OK\r\n", false, Expect{Status: 204}, true, L7STS, 200},
		{"expect status 503", "HTTP/1.1 503 x\r\n", false, Expect{Status: 503}, true, L7OK, 503},
		{"rstatus hit", "HTTP/1.1 503 x\r\n", false, Expect{RStatus: re}, true, L7OK, 503},
		{"rstatus miss", "HTTP/1.1 404 x\r\n", false, Expect{RStatus: re}, true, L7STS, 404},
		{"string hit", "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nall OK!", false, Expect{String: "OK!"}, true, L7OK, 200},
		{"string hit status ignored", "HTTP/1.1 500 x\r\n\r\nOK!", false, Expect{String: "OK!"}, true, L7OK, 500},
		{"string not in headers", "HTTP/1.1 200 OK\r\nX-A: OK!\r\n\r\n", true, Expect{String: "OK!"}, true, L7RSP, 200},
		{"string waits for body", "HTTP/1.1 200 OK\r\n\r\nal", false, Expect{String: "OK!"}, false, "", 0},
		{"string done at content-length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nal", false, Expect{String: "OK!"}, true, L7RSP, 200},
		{"string bare LF", "HTTP/1.1 200 OK\nA: b\n\nOK!", false, Expect{String: "OK!"}, true, L7OK, 200},
		{"string headers truncated", "HTTP/1.1 200 OK\r\nA: b", true, Expect{String: "OK!"}, true, L7RSP, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, done := EvalResponse([]byte(tc.in), tc.eof, tc.exp)
			if done != tc.done || r.Code != tc.code || r.Status != tc.status {
				t.Fatalf("got %+v done=%v, want code %s status %d done=%v", r, done, tc.code, tc.status, tc.done)
			}
		})
	}
}

func FuzzEvalResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nOK!"), true, "OK!")
	f.Add([]byte("HTTP/1.0 500 x\n\n"), false, "")
	f.Add([]byte("\n\n\r\n\r\n"), true, "x")
	f.Fuzz(func(t *testing.T, b []byte, eof bool, s string) {
		r, done := EvalResponse(b, eof, Expect{String: s})
		if eof && !done {
			t.Fatal("not done at eof")
		}
		if done && r.Code == "" {
			t.Fatal("done without code")
		}
		if r.Code == L7OK && s == "" && (r.Status < 200 || r.Status > 399) {
			t.Fatalf("status %d passed", r.Status)
		}
		ParseStatusLine(b)
		contentLength(b)
	})
}

// httpServer is a loopback server answering each connection with handler's
// bytes; it records the requests it read.
type httpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	reqs []string
	wg   sync.WaitGroup
}

func newHTTPServer(t *testing.T, handle func(c net.Conn, req string)) *httpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &httpServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				br := bufio.NewReader(c)
				var b strings.Builder
				for {
					ln, err := br.ReadString('\n')
					b.WriteString(ln)
					if err != nil || ln == "\r\n" {
						break
					}
				}
				s.mu.Lock()
				s.reqs = append(s.reqs, b.String())
				s.mu.Unlock()
				handle(c, b.String())
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *httpServer) addr() string { return s.ln.Addr().String() }

func (s *httpServer) lastReq() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		return ""
	}
	return s.reqs[len(s.reqs)-1]
}

func respond(text string) func(net.Conn, string) {
	return func(c net.Conn, _ string) { c.Write([]byte(text)) }
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func TestTCPCheck(t *testing.T) {
	srv := newHTTPServer(t, respond(""))
	to := Timeouts{Inter: 2 * time.Second}
	if r := (&TCPCheck{Addr: srv.addr(), Timeouts: to}).Check(context.Background()); r.Code != L4OK || !r.OK() {
		t.Fatalf("open port: %+v", r)
	}
	r := (&TCPCheck{Addr: closedAddr(t), Timeouts: to}).Check(context.Background())
	if r.Code != L4CON || r.Info != "Connection refused" || r.Reason() != "Layer4 connection problem" {
		t.Fatalf("closed port: %+v", r)
	}
}

// hangDialer never connects until the context ends.
type hangDialer struct{}

func (hangDialer) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestConnectTimeout(t *testing.T) {
	to := Timeouts{Inter: time.Second, Connect: 30 * time.Millisecond, Check: 5 * time.Second}
	r := (&TCPCheck{Addr: "127.0.0.1:1", Timeouts: to, Dialer: hangDialer{}}).Check(context.Background())
	if r.Code != L4TOUT || r.Reason() != "Layer4 timeout" {
		t.Fatalf("hung connect: %+v", r)
	}
	if r.Duration >= time.Second {
		t.Fatalf("connect timeout not min(connect, inter): took %v", r.Duration)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := (&TCPCheck{Addr: "127.0.0.1:1", Timeouts: to, Dialer: hangDialer{}}).Check(ctx); r.Code != SOCKERR {
		t.Fatalf("cancelled: %+v", r)
	}
}

func TestHTTPCheck(t *testing.T) {
	ok200 := newHTTPServer(t, respond("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nALL OK"))
	err500 := newHTTPServer(t, respond("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 6\r\n\r\nALL OK"))
	release := make(chan struct{})
	hang := newHTTPServer(t, func(net.Conn, string) { <-release })
	defer close(release)
	garbage := newHTTPServer(t, respond("SSH-2.0-x\r\n"))
	closer := newHTTPServer(t, respond(""))
	// A server that sends the status line and then never the body.
	slowBody := newHTTPServer(t, func(c net.Conn, _ string) {
		c.Write([]byte("HTTP/1.1 200 OK\r\n\r\n"))
		<-release
	})

	to := Timeouts{Inter: 2 * time.Second, Check: 100 * time.Millisecond}
	req := BuildRequest("GET", "/health_check.php", "HTTP/1.1", "", "127.0.0.1:8080")
	tests := []struct {
		name   string
		addr   string
		exp    Expect
		code   Code
		status int
	}{
		{"200", ok200.addr(), Expect{}, L7OK, 200},
		{"500 fails although port is open", err500.addr(), Expect{}, L7STS, 500},
		{"expect status 500", err500.addr(), Expect{Status: 500}, L7OK, 500},
		{"string", ok200.addr(), Expect{String: "ALL OK"}, L7OK, 200},
		{"string missing", ok200.addr(), Expect{String: "nope"}, L7RSP, 200},
		{"hanging app times out", hang.addr(), Expect{}, L7TOUT, 0},
		{"hanging body times out", slowBody.addr(), Expect{String: "x"}, L7TOUT, 0},
		{"not http", garbage.addr(), Expect{}, L7RSP, 0},
		{"closed without answer", closer.addr(), Expect{}, L7RSP, 0},
		{"refused", closedAddr(t), Expect{}, L4CON, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &HTTPCheck{Addr: tc.addr, Request: req, Expect: tc.exp, Timeouts: to}
			r := c.Check(context.Background())
			if r.Code != tc.code || r.Status != tc.status {
				t.Fatalf("got %+v, want %s %d", r, tc.code, tc.status)
			}
			if tc.code == L7TOUT && (r.Duration < 90*time.Millisecond || r.Duration > time.Second) {
				t.Fatalf("timeout check not honoured: %v", r.Duration)
			}
		})
	}
	if got := ok200.lastReq(); !strings.HasPrefix(got, "GET /health_check.php HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n") || !strings.Contains(got, "Connection: close\r\n") {
		t.Fatalf("request %q", got)
	}
}

func TestHTTPCheckInterCoversAll(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	hang := newHTTPServer(t, func(net.Conn, string) { <-release })
	c := &HTTPCheck{Addr: hang.addr(), Request: BuildRequest("", "", "", "", ""), Timeouts: Timeouts{Inter: 80 * time.Millisecond}}
	r := c.Check(context.Background())
	if r.Code != L7TOUT || r.Duration < 70*time.Millisecond || r.Duration > time.Second {
		t.Fatalf("without timeout check, inter bounds the check: %+v", r)
	}
	if got := hang.lastReq(); got != "OPTIONS / HTTP/1.0\r\n\r\n" {
		t.Fatalf("default request %q", got)
	}
}

func TestHTTPCheckCancel(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	hang := newHTTPServer(t, func(net.Conn, string) { <-release })
	ctx, cancel := context.WithCancel(context.Background())
	c := &HTTPCheck{Addr: hang.addr(), Request: BuildRequest("", "", "", "", ""), Timeouts: Timeouts{Inter: time.Minute}}
	done := make(chan Result)
	go func() { done <- c.Check(ctx) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case r := <-done:
		if r.Code != SOCKERR {
			t.Fatalf("cancelled check: %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("check did not stop on cancel")
	}
}
