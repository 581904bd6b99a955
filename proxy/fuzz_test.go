package proxy

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

var fuzzProxy struct {
	once sync.Once
	addr string
	err  error
}

// fuzzAddr starts one engine (kept for the whole fuzzing run) in front of a
// loopback server that answers every head with a small response.
func fuzzAddr(t *testing.T) string {
	fuzzProxy.once.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fuzzProxy.err = err
			return
		}
		go fuzzServe(ln)
		cfg := testConfig(srv("s", ln.Addr().String()))
		cfg.Frontends[0].ClientTimeout = 300 * time.Millisecond
		cfg.Backends[0].ServerTimeout = 300 * time.Millisecond
		cfg.Frontends[0].HTTPRequestTimeout, cfg.Frontends[0].KeepAliveTimeout = 300*time.Millisecond, 300*time.Millisecond
		cfg.Frontends[0].HTTPServerClose = true
		e, err := New(cfg, Options{})
		if err != nil {
			fuzzProxy.err = err
			return
		}
		if err := e.Start(context.Background()); err != nil {
			fuzzProxy.err = err
			return
		}
		fuzzProxy.addr = e.BoundAddrs("fe")[0]
	})
	if fuzzProxy.err != nil {
		t.Fatal(fuzzProxy.err)
	}
	return fuzzProxy.addr
}

// FuzzProxyRequest sends arbitrary bytes through the proxy: it must answer
// or close within its timeouts, and keep serving well-formed requests.
func FuzzProxyRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: v\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n",
		"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
		"\x00\x01\x02",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		addr := fuzzAddr(t)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("proxy neither answered nor closed: %v", err)
		}
		c.Close()
		// Still healthy.
		c2, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		c2.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c2, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		out, _ := io.ReadAll(c2)
		if !strings.HasPrefix(string(out), "HTTP/1.1 200 OK\r\n") {
			t.Fatalf("proxy unhealthy after %q: %q", data, out)
		}
	})
}

// fuzzServe answers every request head on ln's connections with a small
// response (the fuzz targets' backend).
func fuzzServe(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 65536)
			var acc []byte
			for {
				n, err := c.Read(buf)
				acc = append(acc, buf[:n]...)
				for {
					i := strings.Index(string(acc), "\r\n\r\n")
					if i < 0 {
						break
					}
					acc = acc[i+4:]
					c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
				}
				if err != nil {
					return
				}
			}
		}()
	}
}
