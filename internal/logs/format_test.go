package logs

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var feb6 = time.Date(2009, time.February, 6, 12, 14, 14, 655_000_000, time.UTC)

func sampleHTTP() *Record {
	return &Record{
		Client:      netip.MustParseAddrPort("10.0.1.2:33317"),
		AcceptedAt:  feb6,
		Frontend:    "http-in",
		Backend:     "static",
		Server:      "srv1",
		TR:          10 * time.Millisecond,
		Tw:          0,
		Tc:          30 * time.Millisecond,
		Tr:          69 * time.Millisecond,
		Ta:          109*time.Millisecond + 900*time.Microsecond,
		Status:      200,
		BytesRead:   2750,
		Termination: "----",
		ActConn:     1, FeConn: 1, BeConn: 1, SrvConn: 1,
		RequestLine: "GET /index.html HTTP/1.1",
	}
}

func TestAppendHTTP(t *testing.T) {
	tests := []struct {
		name string
		mod  func(r *Record)
		want string
	}{
		{"haproxy doc example", func(r *Record) {},
			`10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"`},
		{"TLS frontend (HAProxy's ~)", func(r *Record) { r.TLS = true },
			`10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in~ static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"`},
		{"no server, phases never reached", func(r *Record) {
			r.Backend, r.Server = "", ""
			r.Tw, r.Tc, r.Tr = -1, -1, -1
			r.Status, r.BytesRead = 503, 212
			r.Termination = "SC--"
			r.BeConn, r.SrvConn = 0, 0
		}, `10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in http-in/<NOSRV> 10/-1/-1/-1/109 503 212 - - SC-- 1/1/0/0/0 0/0 "GET /index.html HTTP/1.1"`},
		{"redispatch, retries and queues", func(r *Record) {
			r.Retries, r.Redispatch = 3, true
			r.SrvQueue, r.BackendQueue = 2, 7
			r.ReqCookie, r.RespCookie = "SERVERID=web01", "SERVERID=web02"
			r.Termination = "--NI"
		}, `10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 SERVERID=web01 SERVERID=web02 --NI 1/1/1/1/+3 2/7 "GET /index.html HTTP/1.1"`},
		{"bad request", func(r *Record) {
			r.RequestLine, r.Status, r.Backend, r.Server = "", 400, "", ""
			r.Tw, r.Tc, r.Tr = -1, -1, -1
			r.Termination = "PR"
		}, `10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in http-in/<NOSRV> 10/-1/-1/-1/109 400 2750 - - PR-- 1/1/1/1/0 0/0 "<BADREQ>"`},
		{"client abort before response", func(r *Record) {
			r.Status, r.Tr, r.Termination = 0, -1, "CH"
		}, `10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/-1/109 -1 2750 - - CH-- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"`},
		{"ipv6 client, hostile request line", func(r *Record) {
			r.Client = netip.MustParseAddrPort("[2001:db8::1%eth0]:443")
			r.RequestLine = "GET /a\"b#c\x00\n\xff HTTP/1.1"
		}, `2001:db8::1:443 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET /a#22b#23c#00#0A#FF HTTP/1.1"`},
		{"ipv4-mapped client, odd termination", func(r *Record) {
			r.Client = netip.MustParseAddrPort("[::ffff:192.0.2.7]:80")
			r.Termination = "c R!x"
		}, `192.0.2.7:80 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - c-R- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleHTTP()
			tt.mod(r)
			if got := string(AppendHTTP(nil, r)); got != tt.want {
				t.Errorf("\n got %s\nwant %s", got, tt.want)
			}
			if got := string(Append([]byte("x"), r)); got != "x"+tt.want {
				t.Errorf("Append does not append: %s", got)
			}
		})
	}
}

func TestAppendTCP(t *testing.T) {
	r := &Record{
		Client:      netip.MustParseAddrPort("10.0.1.2:33313"),
		AcceptedAt:  time.Date(2009, time.February, 6, 12, 12, 51, 443_999_999, time.UTC),
		Frontend:    "fnt",
		Backend:     "bck",
		Server:      "srv1",
		TR:          -1,
		Tw:          0,
		Tc:          0,
		Ta:          5007 * time.Millisecond,
		Status:      -1,
		BytesRead:   212,
		Termination: "",
		Retries:     3,
		TCP:         true,
	}
	want := `10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/srv1 0/0/5007 212 -- 0/0/0/0/3 0/0`
	if got := string(Append(nil, r)); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	r.Termination, r.Server, r.Tc, r.Redispatch = "SC--", "", -1, true
	want = `10.0.1.2:33313 [06/Feb/2009:12:12:51.443] fnt bck/<NOSRV> 0/-1/5007 212 SC 0/0/0/0/+3 0/0`
	if got := string(AppendTCP(nil, r)); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

func TestAppendTruncatesRequestLine(t *testing.T) {
	r := sampleHTTP()
	r.RequestLine = "GET /" + strings.Repeat("a", 5000) + " HTTP/1.1"
	got := AppendHTTP(nil, r)
	i := bytes.IndexByte(got, '"')
	if q := got[i+1 : len(got)-1]; len(q) != MaxRequestLine {
		t.Fatalf("request line kept %d bytes, want %d", len(q), MaxRequestLine)
	}
	if got[len(got)-1] != '"' {
		t.Fatalf("closing quote lost")
	}
	// An escape sequence is never cut in half.
	r.RequestLine = strings.Repeat("\x01", 1000)
	got = AppendHTTP(nil, r)
	i = bytes.IndexByte(got, '"')
	if q := got[i+1 : len(got)-1]; len(q)%3 != 0 || len(q) > MaxRequestLine {
		t.Fatalf("escaped request line has %d bytes", len(q))
	}
}

func TestAppendHTTPNoAlloc(t *testing.T) {
	r := sampleHTTP()
	buf := make([]byte, 0, 1024)
	allocs := testing.AllocsPerRun(100, func() { buf = AppendHTTP(buf[:0], r) })
	if allocs != 0 {
		t.Fatalf("AppendHTTP allocates %v times per line", allocs)
	}
	r.TCP = true
	allocs = testing.AllocsPerRun(100, func() { buf = Append(buf[:0], r) })
	if allocs != 0 {
		t.Fatalf("AppendTCP allocates %v times per line", allocs)
	}
}

func TestIsNull(t *testing.T) {
	r := sampleHTTP()
	if IsNull(r) {
		t.Fatal("a served request is not null")
	}
	r.RequestLine, r.BytesRead = "", 0
	if !IsNull(r) {
		t.Fatal("a connection with no request and no response is null")
	}
	r.TCP, r.BytesRead = true, 10
	if IsNull(r) {
		t.Fatal("a TCP session that sent bytes is not null")
	}
}

func BenchmarkAppendHTTP(b *testing.B) {
	r := sampleHTTP()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendHTTP(buf[:0], r)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkAppendTCP(b *testing.B) {
	r := sampleHTTP()
	r.TCP = true
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendTCP(buf[:0], r)
	}
}

func FuzzAppendHTTP(f *testing.F) {
	f.Add("GET / HTTP/1.1", "fe", "be", "srv", "SID=1", "----", int64(5))
	f.Add("\x00\xff\"#\n", "", "", "", "", "", int64(-1))
	f.Fuzz(func(t *testing.T, line, fe, be, srv, cookie, term string, n int64) {
		r := &Record{
			Client: netip.MustParseAddrPort("127.0.0.1:1"), AcceptedAt: feb6,
			Frontend: fe, Backend: be, Server: srv, ReqCookie: cookie, RespCookie: cookie,
			Termination: term, RequestLine: line, BytesRead: n, Tw: time.Duration(n),
		}
		for _, tcp := range []bool{false, true} {
			r.TCP = tcp
			out := Append(nil, r)
			for _, c := range out {
				if c < 0x20 || c >= 0x7f {
					t.Fatalf("control or non-ASCII byte %#x in %q", c, out)
				}
			}
			if !tcp && (bytes.Count(out, []byte{'"'}) != 2 || out[len(out)-1] != '"') {
				t.Fatalf("request line not quoted exactly once: %q", out)
			}
			if len(out) > MaxLine {
				t.Fatalf("line of %d bytes", len(out))
			}
		}
	})
}
