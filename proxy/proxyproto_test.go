package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// ppBackend answers with the X-Forwarded-For values it got.
func ppBackend(t *testing.T) *testBackend {
	return newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%q", r.Header.Values("X-Forwarded-For"))
	})
}

func v2Header(t *testing.T, src, dst string) []byte {
	t.Helper()
	b, err := AppendProxyHeader(nil, 2, netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAcceptProxyV1V2(t *testing.T) {
	a := ppBackend(t)
	cfg := testConfig(srv("s1", a.addr()))
	cfg.Frontends[0].ForwardFor = &ForwardFor{Header: "X-Forwarded-For"}
	cfg.Frontends[0].AcceptProxy = &AcceptProxy{}
	cfg.Frontends[0].ACLs = []ACL{{Name: "lan", Criterion: "src", Values: []string{"192.0.2.0/24"}}}
	cfg.Frontends[0].UseBackends = []UseBackend{{Backend: "be", If: "lan"}}
	cfg.Frontends[0].DefaultBackend = ""
	e, addr, sink := startEngine(t, cfg)

	// v1, with the request in the same segment as the header.
	rc := dialRaw(t, addr)
	rc.send("PROXY TCP4 192.0.2.7 198.51.100.1 40000 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := rc.resp("GET"); body != `["192.0.2.7"]` {
		t.Errorf("v1 X-Forwarded-For: %s", body)
	}
	if r := sink.last(t); r.Client != netip.MustParseAddrPort("192.0.2.7:40000") {
		t.Errorf("v1 logged client %v", r.Client)
	}
	// v2 (IPv6), the header alone first, then keep-alive requests.
	rc2 := dialRaw(t, addr)
	rc2.c.Write(v2Header(t, "[2001:db8::5]:5555", "[2001:db8::1]:80"))
	time.Sleep(20 * time.Millisecond)
	// Not in the ACL's network: no backend (503), logged with the header's address.
	if res, _ := rc2.get("/"); res.StatusCode != 503 {
		t.Errorf("v2 ipv6 outside the acl: %d", res.StatusCode)
	}
	if r := sink.last(t); r.Client != netip.MustParseAddrPort("[2001:db8::5]:5555") {
		t.Errorf("v2 logged client %v", r.Client)
	}
	rc3 := dialRaw(t, addr)
	rc3.c.Write(v2Header(t, "192.0.2.9:1234", "192.0.2.1:80"))
	for i := 0; i < 2; i++ {
		if _, body := rc3.get("/"); body != `["192.0.2.9"]` {
			t.Errorf("v2 request %d: %s", i, body)
		}
	}
	// v2 LOCAL (a health check of the sending proxy): the peer's address.
	local, _ := AppendProxyHeader(nil, 2, netip.AddrPort{}, netip.AddrPort{})
	rc4 := dialRaw(t, addr)
	rc4.c.Write(local)
	if res, _ := rc4.get("/"); res.StatusCode != 503 {
		t.Errorf("LOCAL from 127.0.0.1: %d", res.StatusCode)
	}

	// Refused: no header, garbage, truncated v2, oversized v2, bad v1.
	bad := map[string][]byte{
		"no header":     []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"garbage":       []byte("PROXY garbage here\r\nGET / HTTP/1.1\r\n\r\n"),
		"v1 too long":   append([]byte("PROXY TCP4 "), bytes.Repeat([]byte("1"), 200)...),
		"bad signature": []byte("\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c"),
		"oversized v2":  append([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\xff\xff"), make([]byte, 64)...),
		"bad tlv":       append(v2Header(t, "192.0.2.9:1234", "192.0.2.1:80")[:14], 0, 16, 192, 0, 2, 9, 192, 0, 2, 1, 4, 210, 0, 80, 0x04, 0x00, 0x10, 0xaa),
	}
	before := e.Frontends()[0].ProxyErrors
	for name, b := range bad {
		rc := dialRaw(t, addr)
		rc.c.Write(b)
		t.Log(name)
		rc.expectClosed()
	}
	// Truncated: the client closes inside the header.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(v2Header(t, "192.0.2.9:1234", "192.0.2.1:80")[:20])
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("truncated header: connection not closed: %v", err)
	}
	c.Close()
	waitFor(t, "proxy errors counted", func() bool { return e.Frontends()[0].ProxyErrors >= before+uint64(len(bad))+1 })
}

func TestAcceptProxyTimeoutAndFrom(t *testing.T) {
	a := ppBackend(t)
	cfg := testConfig(srv("s1", a.addr()))
	cfg.Frontends[0].ForwardFor = &ForwardFor{Header: "X-Forwarded-For"}
	cfg.Frontends[0].HTTPRequestTimeout = 200 * time.Millisecond
	cfg.Frontends[0].AcceptProxy = &AcceptProxy{}
	_, addr, _ := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	rc.send("PROXY TCP4 1.2.3.4") // never finished
	start := time.Now()
	rc.expectClosed()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %v", d)
	}

	// From: only listed sources must send a header; others are direct.
	cfg2 := testConfig(srv("s1", a.addr()))
	cfg2.Frontends[0].ForwardFor = &ForwardFor{Header: "X-Forwarded-For"}
	cfg2.Frontends[0].AcceptProxy = &AcceptProxy{From: []string{"10.0.0.0/8"}}
	_, addr2, _ := startEngine(t, cfg2)
	if _, body := dialRaw(t, addr2).get("/"); body != `["127.0.0.1"]` {
		t.Errorf("direct client not in from: %s", body)
	}
	cfg2.Frontends[0].AcceptProxy = &AcceptProxy{From: []string{"127.0.0.1"}}
	_, addr3, _ := startEngine(t, cfg2)
	rc3 := dialRaw(t, addr3)
	rc3.send("PROXY TCP4 192.0.2.7 198.51.100.1 40000 80\r\n")
	if _, body := rc3.get("/"); body != `["192.0.2.7"]` {
		t.Errorf("listed source: %s", body)
	}
}

// TestAcceptProxyTCPAndSendProxy: mode tcp takes the header's client and
// passes bytes sent with the header on; send-proxy v1/v2 names the client.
func TestAcceptProxyTCPAndSendProxy(t *testing.T) {
	for _, ver := range []int{SendProxyV1, SendProxyV2} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		got := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			tc := c.(*net.TCPConn)
			src, dst, err := readProxyHeader(tc, time.Now().Add(5*time.Second))
			if err != nil {
				got <- "error: " + err.Error()
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			got <- fmt.Sprintf("%v %v %s", src, dst, line)
			c.Write([]byte("ok\n"))
		}()
		cfg := testConfig(Server{Name: "s1", Address: ln.Addr().String(), Weight: 1, SendProxy: ver})
		cfg.Frontends[0].Mode, cfg.Backends[0].Mode = ModeTCP, ModeTCP
		cfg.Frontends[0].AcceptProxy = &AcceptProxy{}
		_, addr, sink := startEngine(t, cfg)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("PROXY TCP4 192.0.2.7 198.51.100.1 40000 443\r\nhello\n"))
		if s := <-got; s != "192.0.2.7:40000 198.51.100.1:443 hello\n" {
			t.Errorf("v%d: server saw %q", ver, s)
		}
		io.ReadAll(c)
		c.Close()
		if r := sink.last(t); r.Client.String() != "192.0.2.7:40000" {
			t.Errorf("tcp log client %v", r.Client)
		}
	}
}

// TestSendProxyHTTPNotPooled: each request of an HTTP client reaches a
// send-proxy server on a connection carrying its own header.
func TestSendProxyHTTPNotPooled(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan string, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				src, _, err := readProxyHeader(c.(*net.TCPConn), time.Now().Add(5*time.Second))
				if err != nil {
					seen <- err.Error()
					return
				}
				seen <- src.Addr().String()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
				}
			}()
		}
	}()
	cfg := testConfig(Server{Name: "s1", Address: ln.Addr().String(), Weight: 1, SendProxy: SendProxyV2})
	_, addr, _ := startEngine(t, cfg)
	for i := 0; i < 2; i++ {
		rc := dialRaw(t, addr)
		if res, _ := rc.get("/"); res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		if s := <-seen; s != "127.0.0.1" {
			t.Errorf("request %d: server saw %q", i, s)
		}
	}
}

// TestAcceptProxyCurl: curl --haproxy-protocol sends a v1 header.
func TestAcceptProxyCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		skipOrFail(t, "curl not installed (apt-get install curl)")
	}
	a := ppBackend(t)
	cfg := testConfig(srv("s1", a.addr()))
	cfg.Frontends[0].ForwardFor = &ForwardFor{Header: "X-Forwarded-For"}
	cfg.Frontends[0].AcceptProxy = &AcceptProxy{}
	_, addr, sink := startEngine(t, cfg)
	out, err := exec.Command("curl", "-sS", "--max-time", "5", "--haproxy-protocol", "http://"+addr+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	// curl names its own connection's addresses: 127.0.0.1 here.
	if string(out) != `["127.0.0.1"]` {
		t.Errorf("curl: %s", out)
	}
	if r := sink.last(t); !r.Client.Addr().IsLoopback() {
		t.Errorf("curl logged client %v", r.Client)
	}
	if out, _ := exec.Command("curl", "-sS", "--max-time", "5", "http://"+addr+"/").CombinedOutput(); strings.Contains(string(out), "127.0.0.1") {
		t.Errorf("curl without the header was served: %s", out)
	}
}

// FuzzProxyHeader: the header glue never panics and never reports a length
// beyond its input or its bound.
func FuzzProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00\x02"))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x21\x00\x27" + strings.Repeat("\x00", 39)))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := proxyHeaderLen(b)
		if err != nil || n == 0 {
			return
		}
		if n > maxProxyHeader {
			t.Fatalf("length %d beyond the bound", n)
		}
		if n <= len(b) {
			parseProxyHeader(b[:n])
		}
	})
}

// skipOrFail skips with a remedy, or fails when CI=true.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true, so this is a failure, not a skip)", why)
	}
	t.Skip(why)
}
