package proxy

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/proxy/h1"
)

var benchResp = []byte("HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n")

// rawServer answers every request head with benchResp (no allocation per
// request), standing in for nginx.
func rawServer(tb testing.TB) string {
	ln := serveLoopback(tb, func(c net.Conn) {
		buf := make([]byte, 8192)
		n := 0
		for {
			k, err := c.Read(buf[n:])
			if err != nil {
				return
			}
			n += k
			for {
				i := bytes.Index(buf[:n], []byte("\r\n\r\n"))
				if i < 0 {
					break
				}
				if _, err := c.Write(benchResp); err != nil {
					return
				}
				copy(buf, buf[i+4:n])
				n -= i + 4
			}
		}
	})
	return ln.Addr().String()
}

func benchEngine(b *testing.B, serverClose bool, opts ...Options) string {
	s1, s2 := rawServer(b), rawServer(b)
	cfg := testConfig(Server{Weight: 1, Name: "s1", Address: s1, Cookie: "s1"}, Server{Weight: 1, Name: "s2", Address: s2, Cookie: "s2"})
	if serverClose {
		cfg.Frontends[0].HTTPServerClose = true
		cfg.Backends[0].Cookie = &Cookie{Name: "SERVERID", Indirect: true, NoCache: true}
	}
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	e, err := New(cfg, o)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		e.Shutdown(ctx)
	})
	return e.BoundAddrs("fe")[0]
}

var benchReq = []byte("GET /index.html HTTP/1.1\r\nHost: bench\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")

// benchClient runs keep-alive request/response loops over one connection.
func benchClient(b *testing.B, addr string, n func() bool) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Error(err)
		return
	}
	defer c.Close()
	buf := make([]byte, 4096)
	var resp h1.Response
	for n() {
		if _, err := c.Write(benchReq); err != nil {
			b.Error(err)
			return
		}
		got := 0
		for {
			k, err := c.Read(buf[got:])
			if err != nil {
				b.Error(err)
				return
			}
			got += k
			if err := h1.ParseResponse(buf[:got], &resp); err == nil && got >= resp.Len+int(resp.ContentLength) {
				break
			}
		}
		if resp.Status != 200 {
			b.Errorf("status %d", resp.Status)
			return
		}
	}
}

// BenchmarkProxyKeepAlive measures one keep-alive client through the proxy
// to keep-alive loopback servers (allocs/op counts the whole process).
func BenchmarkProxyKeepAlive(b *testing.B) {
	addr := benchEngine(b, false)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	benchClient(b, addr, func() bool { i++; return i <= b.N })
}

// BenchmarkProxyKeepAliveLogged is BenchmarkProxyKeepAlive with an access
// log callback: repeated requests log without allocating.
func BenchmarkProxyKeepAliveLogged(b *testing.B) {
	var n int64
	addr := benchEngine(b, false, Options{AccessLog: func(r *LogRecord) { n += r.BytesRead }})
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	benchClient(b, addr, func() bool { i++; return i <= b.N })
}

// BenchmarkProxyKeepAliveParallel: 32 concurrent keep-alive clients.
func BenchmarkProxyKeepAliveParallel(b *testing.B) {
	addr := benchEngine(b, false)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) { benchClient(b, addr, pb.Next) })
}

// BenchmarkProxyServerClose: the seed config's http-server-close with
// cookie insert; every request opens a new server connection.
func BenchmarkProxyServerClose(b *testing.B) {
	addr := benchEngine(b, true)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) { benchClient(b, addr, pb.Next) })
}

// BenchmarkHotPath runs the per-request work in memory: parse, ACL routing,
// server pick, request re-serialisation, response parse and response
// re-serialisation with cookie insertion. It must not allocate.
func BenchmarkHotPath(b *testing.B) { benchHotPath(b, nil) }

// BenchmarkHotPathRules is BenchmarkHotPath with five rules and a
// rate-limit table: track-sc0 src, deny 429 over a rate, deny a path,
// set a request header, and HSTS on the response. Nothing is denied; it
// must not allocate either.
func BenchmarkHotPathRules(b *testing.B) {
	benchHotPath(b, func(cfg *Config) {
		cfg.Tables = []StickTable{{Name: "fe", Size: 100000, Expire: time.Minute, Store: []string{"http_req_rate(10s)", "conn_cur"}}}
		f := &cfg.Frontends[0]
		f.HTTPRequestRules = []HTTPRule{
			{Action: "track-sc0", Key: "src"},
			{Action: "deny", Status: 429, If: "{ sc_http_req_rate(0) gt 1000000000 }"},
			{Action: "deny", If: "{ path_beg /admin }"},
			{Action: "set-header", Name: "X-Forwarded-Proto", Value: "http"},
		}
		f.HTTPResponseRules = []HTTPRule{{Action: "set-header", Name: "Strict-Transport-Security", Value: "max-age=63072000"}}
	})
}

func benchHotPath(b *testing.B, mod func(*Config)) {
	cfg := testConfig(srv("s1", "127.0.0.1:1"), srv("s2", "127.0.0.1:2"))
	cfg.Backends[0].Cookie = &Cookie{Name: "SERVERID", Indirect: true, NoCache: true}
	cfg.Backends[0].ForwardFor = &ForwardFor{Header: "X-Forwarded-For"}
	cfg.Frontends[0].ACLs = []ACL{
		{Name: "static", Criterion: "path_end", IgnoreCase: true, Values: []string{".png", ".css", ".js"}},
		{Name: "host", Criterion: "hdr(host)", IgnoreCase: true, Values: []string{"static.example.com"}},
	}
	cfg.Backends = append(cfg.Backends, testBackendCfg("static", srv("st", "127.0.0.1:3")))
	cfg.Frontends[0].UseBackends = []UseBackend{{Backend: "static", If: "static || host"}}
	if mod != nil {
		mod(cfg)
	}
	g, _, err := compile(cfg, newRegistry())
	if err != nil {
		b.Fatal(err)
	}
	fe := g.frontends[0]
	cc := &clientConn{fe: fe, src: netip.MustParseAddrPort("10.1.2.3:4567")}
	cc.getReq()
	req := []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\nCookie: a=b; SERVERID=s2\r\nConnection: keep-alive\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/html\r\nContent-Length: " + strconv.Itoa(612) + "\r\nConnection: keep-alive\r\n\r\n")
	out := make([]byte, 0, bufSize)
	b.ReportAllocs()
	for b.Loop() {
		if err := h1.ParseRequest(req, &cc.req); err != nil {
			b.Fatal(err)
		}
		m := cc.requestMatch()
		if fe.reqRules != nil {
			cc.rules.reset()
			if done, _ := cc.httpRequestRules(&m, time.Time{}); done {
				b.Fatal("request answered by a rule")
			}
		}
		be := fe.route(&m)
		x := exchange{be: be, bodyKind: cc.req.RequestBody()}
		if v, ok := findCookie(&cc.req, be.cookie.name); ok {
			x.ckValue, x.ckSent = v, true
			x.persist = be.persistTarget(v)
		}
		res, err := be.acquire(x.persist, cc.src.Addr(), nil, time.Second)
		if err != nil {
			b.Fatal(err)
		}
		x.srv = res.srv
		x.direct = x.srv == x.persist
		out = cc.appendServerHead(out[:0], &x, true)
		if err := h1.ParseResponse(resp, &cc.resp); err != nil {
			b.Fatal(err)
		}
		out = cc.appendClientHead(out[:0], &x, true, cc.resp.ResponseBody(false))
		be.release(x.srv)
		cc.rec.Status = 200
		cc.endRequestTracking()
	}
	_ = io.Discard
}
