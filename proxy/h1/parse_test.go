package h1

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParseRequestAcceptReject(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		ok     bool
		status int // expected error status when !ok
		check  func(t *testing.T, r *Request)
	}{
		{name: "simple", raw: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", ok: true, check: func(t *testing.T, r *Request) {
			if string(r.Method) != "GET" || string(r.URI) != "/" || r.Minor != 1 || string(r.Host) != "a" || r.ContentLength != -1 || !r.KeepAlive() {
				t.Errorf("got %+v", r)
			}
		}},
		{name: "bare LF lines", raw: "GET /x HTTP/1.0\nA: b\n\n", ok: true, check: func(t *testing.T, r *Request) {
			if r.Minor != 0 || r.KeepAlive() || len(r.Headers) != 1 {
				t.Errorf("got %+v", r)
			}
		}},
		{name: "leading empty line", raw: "\r\nGET / HTTP/1.1\r\n\r\n", ok: true},
		{name: "http10 keepalive", raw: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", ok: true, check: func(t *testing.T, r *Request) {
			if !r.KeepAlive() {
				t.Error("want keep-alive")
			}
		}},
		{name: "connection close", raw: "GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", ok: true, check: func(t *testing.T, r *Request) {
			if r.KeepAlive() {
				t.Error("want close")
			}
		}},
		{name: "cl", raw: "POST / HTTP/1.1\r\nContent-Length: 0012\r\n\r\n", ok: true, check: func(t *testing.T, r *Request) {
			if r.ContentLength != 12 || r.RequestBody() != BodyLength {
				t.Errorf("cl %d", r.ContentLength)
			}
		}},
		{name: "cl identical twice", raw: "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", ok: true},
		{name: "cl identical list", raw: "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", ok: true},
		{name: "cl conflicting", raw: "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", status: 400},
		{name: "cl conflicting list", raw: "POST / HTTP/1.1\r\nContent-Length: 5,6\r\n\r\n", status: 400},
		{name: "cl empty", raw: "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", status: 400},
		{name: "cl empty element", raw: "POST / HTTP/1.1\r\nContent-Length: ,5\r\n\r\n", status: 400},
		{name: "cl sign", raw: "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", status: 400},
		{name: "cl negative", raw: "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", status: 400},
		{name: "cl hex", raw: "POST / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n", status: 400},
		{name: "cl overflow", raw: "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", status: 400},
		{name: "te chunked", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", ok: true, check: func(t *testing.T, r *Request) {
			if !r.Chunked || r.RequestBody() != BodyChunked || r.ForceClose {
				t.Errorf("got %+v", r)
			}
		}},
		{name: "te gzip chunked", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n", ok: true},
		{name: "te chunked gzip", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", status: 400},
		{name: "te gzip only", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", status: 400},
		{name: "te chunked twice", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", status: 400},
		{name: "te chunked two headers", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", status: 400},
		{name: "te empty", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", status: 400},
		{name: "te chunked-false", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n", status: 400},
		{name: "te plus cl strips cl", raw: "POST / HTTP/1.1\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n", ok: true, check: func(t *testing.T, r *Request) {
			if r.ContentLength != -1 || !r.ForceClose || r.KeepAlive() {
				t.Errorf("got %+v", r)
			}
		}},
		{name: "te on http10 closes", raw: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", ok: true, check: func(t *testing.T, r *Request) {
			if !r.ForceClose {
				t.Error("want force close")
			}
		}},
		{name: "nul in value", raw: "GET / HTTP/1.1\r\nHost: a\x00.b\r\n\r\n", status: 400},
		{name: "cr in value", raw: "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", status: 400},
		{name: "ctl in value", raw: "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", status: 400},
		{name: "tab in value ok", raw: "GET / HTTP/1.1\r\nX: a\tb\r\n\r\n", ok: true},
		{name: "obs-text ok", raw: "GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n", ok: true},
		{name: "empty name", raw: "GET / HTTP/1.1\r\n: x\r\n\r\n", status: 400},
		{name: "space before colon", raw: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", status: 400},
		{name: "no colon", raw: "GET / HTTP/1.1\r\nHost a\r\n\r\n", status: 400},
		{name: "obs fold", raw: "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", status: 400},
		{name: "fragment", raw: "GET /admin#.png HTTP/1.1\r\n\r\n", status: 400},
		{name: "space in uri", raw: "GET /a b HTTP/1.1\r\n\r\n", status: 400},
		{name: "ctl in uri", raw: "GET /a\x01 HTTP/1.1\r\n\r\n", status: 400},
		{name: "relative uri", raw: "GET a HTTP/1.1\r\n\r\n", status: 400},
		{name: "absolute form", raw: "GET http://h/p HTTP/1.1\r\n\r\n", ok: true},
		{name: "asterisk", raw: "OPTIONS * HTTP/1.1\r\n\r\n", ok: true},
		{name: "http2 preface", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 400},
		{name: "http09", raw: "GET /\r\n\r\n", status: 400},
		{name: "lowercase version", raw: "GET / http/1.1\r\n\r\n", status: 400},
		{name: "double space", raw: "GET  / HTTP/1.1\r\n\r\n", status: 400},
		{name: "bad method", raw: "G(T / HTTP/1.1\r\n\r\n", status: 400},
		{name: "host conflict", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400},
		{name: "host dup same", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", ok: true},
		{name: "expect", raw: "POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", ok: true, check: func(t *testing.T, r *Request) {
			if !r.Expect100 {
				t.Error("want expect")
			}
		}},
		{name: "upgrade", raw: "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", ok: true, check: func(t *testing.T, r *Request) {
			if !r.Upgrade {
				t.Error("want upgrade")
			}
		}},
		{name: "upgrade without connection token", raw: "GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", ok: true, check: func(t *testing.T, r *Request) {
			if r.Upgrade {
				t.Error("no upgrade expected")
			}
		}},
		{name: "bare CR line end", raw: "GET / HTTP/1.1\r\nX: a\r\r\n\r\n", status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Request
			err := ParseRequest([]byte(tt.raw), &r)
			if tt.ok {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if r.Len != len(tt.raw) && !strings.HasPrefix(tt.name, "http2") {
					t.Errorf("Len %d, want %d", r.Len, len(tt.raw))
				}
				if tt.check != nil {
					tt.check(t, &r)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("want *Error, got %v", err)
			}
			if pe.Status != tt.status {
				t.Errorf("status %d, want %d", pe.Status, tt.status)
			}
		})
	}
}

func TestParseRequestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\n")
	for i := 0; i < MaxHeaders; i++ {
		b.WriteString("X-A: b\r\n")
	}
	var r Request
	if err := ParseRequest([]byte(b.String()+"\r\n"), &r); err != nil {
		t.Fatalf("%d headers rejected: %v", MaxHeaders, err)
	}
	if err := ParseRequest([]byte(b.String()+"X-A: b\r\n\r\n"), &r); err == nil {
		t.Fatalf("%d headers accepted", MaxHeaders+1)
	}
	big := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", MaxHeadBytes) + "\r\n\r\n"
	if err := ParseRequest([]byte(big), &r); err != errTooLarge {
		t.Fatalf("big head: %v", err)
	}
	// An incomplete head larger than the limit is rejected, not awaited.
	if err := ParseRequest([]byte(big[:MaxHeadBytes+10]), &r); err != errTooLarge {
		t.Fatalf("big partial head: %v", err)
	}
}

func TestParseIncomplete(t *testing.T) {
	raw := "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n"
	var r Request
	for i := 0; i < len(raw); i++ {
		if err := ParseRequest([]byte(raw[:i]), &r); err != ErrIncomplete {
			t.Fatalf("prefix %d: %v", i, err)
		}
	}
	if err := ParseRequest([]byte(raw+"abc"), &r); err != nil || r.Len != len(raw) {
		t.Fatalf("complete: %v len %d", err, r.Len)
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		raw  string
		head bool
		ok   bool
		body BodyKind
		ka   bool
	}{
		{raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", ok: true, body: BodyLength, ka: true},
		{raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", head: true, ok: true, body: BodyNone, ka: true},
		{raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", ok: true, body: BodyChunked, ka: true},
		{raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", ok: true, body: BodyClose, ka: true},
		{raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n", ok: true, body: BodyClose, ka: false},
		{raw: "HTTP/1.1 200 OK\r\n\r\n", ok: true, body: BodyClose, ka: true},
		{raw: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", ok: true, body: BodyNone, ka: false},
		{raw: "HTTP/1.1 204 No Content\r\n\r\n", ok: true, body: BodyNone, ka: true},
		{raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", ok: true, body: BodyNone, ka: true},
		{raw: "HTTP/1.1 100 Continue\r\n\r\n", ok: true, body: BodyNone, ka: true},
		{raw: "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", ok: true, body: BodyNone, ka: true},
		{raw: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", ok: true, body: BodyLength, ka: false},
		{raw: "HTTP/1.1 2000 OK\r\n\r\n"},
		{raw: "HTTP/1.1 20 OK\r\n\r\n"},
		{raw: "HTTP/2 200 OK\r\n\r\n"},
		{raw: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"},
		{raw: "HTTP/1.1 200 OK\r\nX: a\x00\r\n\r\n"},
		{raw: "HTTP/1.1 200 OK\r\nX\r\n\r\n"},
	}
	for _, tt := range tests {
		var r Response
		err := ParseResponse([]byte(tt.raw), &r)
		if (err == nil) != tt.ok {
			t.Errorf("%q: err %v, want ok=%v", tt.raw, err, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		if got := r.ResponseBody(tt.head); got != tt.body {
			t.Errorf("%q: body %d, want %d", tt.raw, got, tt.body)
		}
		if r.KeepAlive() != tt.ka {
			t.Errorf("%q: keepalive %v, want %v", tt.raw, r.KeepAlive(), tt.ka)
		}
	}
}

func TestParseChunkSize(t *testing.T) {
	good := map[string]int64{"0": 0, "a": 10, "FF": 255, "10;ext=1": 16, "1 ;x": 1, "00000000000010": 16}
	for in, want := range good {
		n, err := ParseChunkSize([]byte(in))
		if err != nil || n != want {
			t.Errorf("%q: %d %v, want %d", in, n, err, want)
		}
	}
	for _, in := range []string{"", "g", ";x", "-1", "1x", "1;\x00", "1000000000000000", "0x10"} {
		if _, err := ParseChunkSize([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestRoundTripRequest(t *testing.T) {
	raw := []byte("POST /a?b=c HTTP/1.1\r\nHost:  example  \r\nX-Y:\tz\r\nContent-Length: 3\r\n\r\n")
	var r Request
	if err := ParseRequest(raw, &r); err != nil {
		t.Fatal(err)
	}
	out := AppendRequestLine(nil, &r)
	for _, h := range r.Headers {
		out = AppendHeader(out, h.Name, h.Value)
	}
	out = append(out, "\r\n"...)
	want := "POST /a?b=c HTTP/1.1\r\nHost: example\r\nX-Y: z\r\nContent-Length: 3\r\n\r\n"
	if string(out) != want {
		t.Errorf("got %q\nwant %q", out, want)
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"GET / HTTP/1.0\nConnection: keep-alive\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Request
		if err := ParseRequest(data, &r); err != nil {
			return
		}
		if r.Len > len(data) || r.Len > MaxHeadBytes+2 {
			t.Fatalf("Len %d out of range", r.Len)
		}
		// What we would forward must parse to the same framing.
		out := AppendRequestLine(nil, &r)
		for _, h := range r.Headers {
			if h.Kind == KindContentLength || h.Kind == KindTransferEncoding {
				continue
			}
			out = AppendHeader(out, h.Name, h.Value)
		}
		if r.Chunked {
			out = append(out, "Transfer-Encoding: chunked\r\n"...)
		} else if r.ContentLength >= 0 {
			out = AppendContentLength(out, r.ContentLength)
		}
		out = append(out, "\r\n"...)
		var r2 Request
		if err := ParseRequest(out, &r2); err != nil {
			t.Fatalf("re-serialised %q does not parse: %v", out, err)
		}
		if r2.Chunked != r.Chunked || r2.ContentLength != r.ContentLength || !bytes.Equal(r2.URI, r.URI) || !bytes.Equal(r2.Host, r.Host) {
			t.Fatalf("framing changed: %+v vs %+v", r, r2)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"HTTP/1.0 304 x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Response
		if err := ParseResponse(data, &r); err != nil {
			return
		}
		if r.Status < 100 || r.Status > 999 || r.Len > len(data) {
			t.Fatalf("bad parse %+v", r)
		}
		_ = r.ResponseBody(false)
	})
}

func FuzzChunkSize(f *testing.F) {
	f.Add([]byte("1f;a=b"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ParseChunkSize(data)
		if err == nil && n < 0 {
			t.Fatalf("negative size %d", n)
		}
	})
}

var benchReq = []byte("GET /static/app.js?v=3 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0\r\nAccept: */*\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\nCookie: SERVERID=s1; session=abcdef0123456789\r\nConnection: keep-alive\r\n\r\n")

func BenchmarkParseRequest(b *testing.B) {
	var r Request
	r.Headers = make([]Header, 0, MaxHeaders)
	b.SetBytes(int64(len(benchReq)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseRequest(benchReq, &r); err != nil {
			b.Fatal(err)
		}
	}
}
