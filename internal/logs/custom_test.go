package logs

import (
	"bytes"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/logformat"
)

func mustFL(t testing.TB, format string, p *Privacy) *FrontendLog {
	t.Helper()
	fl, err := CompileFrontendLog(format, p)
	if err != nil {
		t.Fatal(err)
	}
	return fl
}

// TestLogFormatGolden: the httplog format written as a log-format gives
// the httplog line byte for byte; other formats render as written.
func TestLogFormatGolden(t *testing.T) {
	r := sampleHTTP()
	r.Retries, r.Redispatch = 2, true
	if got, want := string(AppendRecord(nil, r, mustFL(t, logformat.HTTPLog, nil))), string(AppendHTTP(nil, r)); got != want {
		t.Errorf("httplog as log-format:\n got %s\nwant %s", got, want)
	}
	for _, tc := range []struct{ format, want string }{
		{"%ci:%cp %ft %b/%s %ST %B %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %{+Q}r",
			`10.0.1.2:33317 http-in static/srv1 200 2750 ---- 1/1/1/1/+2 0/0 "GET /index.html HTTP/1.1"`},
		{"[%tr] %TR/%Tw/%Tc/%Tr/%Ta %CC %CS 100%% %{+Q}s%hr%hs %ts",
			`[06/Feb/2009:12:14:14.655] 10/0/30/69/109 - - 100% "srv1" --`},
	} {
		if got := string(AppendRecord(nil, r, mustFL(t, tc.format, nil))); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.format, got, tc.want)
		}
	}
	tcp := sampleHTTP()
	tcp.TCP, tcp.RequestLine = true, ""
	if got := string(AppendRecord(nil, tcp, mustFL(t, "%ci %r %ST", nil))); got != "10.0.1.2 - 200" {
		t.Errorf("tcp: %s", got)
	}
}

func TestPrivacyMask(t *testing.T) {
	p := &Privacy{V4Bits: 24, V6Bits: 48}
	for in, want := range map[string]string{
		"10.0.1.2:33317":             "10.0.1.0:0",
		"[2001:db8:aa:bb::7]:443":    "[2001:db8:aa::]:0",
		"[::ffff:192.0.2.77]:80":     "192.0.2.0:0",
		"[fe80::1%eth0]:1":           "[fe80::]:0",
		"203.0.113.255:65535":        "203.0.113.0:0",
		"[2001:db8:1:2:3:4:5:6]:999": "[2001:db8:1::]:0",
	} {
		if got := p.Client(netip.MustParseAddrPort(in), feb6).String(); got != want {
			t.Errorf("mask %s: %s, want %s", in, got, want)
		}
	}
	p.KeepPort, p.V4Bits = true, 16
	if got := p.Client(netip.MustParseAddrPort("10.0.1.2:33317"), feb6).String(); got != "10.0.0.0:33317" {
		t.Errorf("keep_port /16: %s", got)
	}
	if got := p.Client(netip.AddrPort{}, feb6); got.IsValid() {
		t.Errorf("invalid address: %v", got)
	}
}

func TestPrivacyPseudonym(t *testing.T) {
	p := &Privacy{Pseudonym: true}
	a := netip.MustParseAddrPort("10.0.1.2:33317")
	day1 := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	x := p.Client(a, day1)
	if y := p.Client(a, day1.Add(10*time.Hour)); x != y {
		t.Errorf("same day, same client: %v then %v", x, y)
	}
	if !netip.MustParsePrefix("240.0.0.0/4").Contains(x.Addr()) || x.Port() != 0 {
		t.Errorf("ipv4 pseudonym %v not in 240.0.0.0/4 with port 0", x)
	}
	if x.Addr() == a.Addr() || x == p.Client(netip.MustParseAddrPort("10.0.1.3:1"), day1) {
		t.Errorf("pseudonym %v reveals or collides", x)
	}
	// The next day has a new key: no link.
	if z := p.Client(a, day1.Add(24*time.Hour)); z == x {
		t.Errorf("next day, same pseudonym %v", z)
	}
	v6 := p.Client(netip.MustParseAddrPort("[2001:db8::1]:5"), day1.Add(24*time.Hour))
	if !netip.MustParsePrefix("100::/64").Contains(v6.Addr()) {
		t.Errorf("ipv6 pseudonym %v not in 100::/64", v6)
	}
}

// TestPrivacyLinesParseWithHalog: masked and pseudonymised lines still
// parse with HAProxy's halog (Debian's haproxy package).
func TestPrivacyLinesParseWithHalog(t *testing.T) {
	halog, err := exec.LookPath("halog")
	if err != nil {
		halog = "/usr/sbin/halog"
		if _, err := os.Stat(halog); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("halog not installed (CI=true): apt-get install haproxy")
			}
			t.Skip("halog not installed: apt-get install haproxy")
		}
	}
	var in bytes.Buffer
	day := time.Now()
	for i, p := range []*Privacy{{V4Bits: 24, V6Bits: 48}, {Pseudonym: true}} {
		for _, c := range []string{"10.0.1.2:33317", "10.0.1.2:40000", "[2001:db8::7]:443"} {
			r := sampleHTTP()
			r.Client = netip.MustParseAddrPort(c)
			r.AcceptedAt = day
			if i == 1 {
				r.Status = 503
			}
			in.WriteString("Dec  4 17:40:00 host lbd[123]: ")
			in.Write(AppendRecord(nil, r, mustFL(t, "", p)))
			in.WriteByte('\n')
		}
	}
	run := func(arg string) string {
		cmd := exec.Command(halog, arg)
		cmd.Stdin = bytes.NewReader(in.Bytes())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("halog %s: %v: %s", arg, err, out)
		}
		if !strings.Contains(string(out), "6 lines in") || !strings.Contains(string(out), " 0 parsing errors") {
			t.Errorf("halog %s: %s", arg, out)
		}
		return string(out)
	}
	if out := run("-srv"); !strings.Contains(out, "static/srv1 0 3 0 0 3 0 6 ") {
		t.Errorf("halog -srv: %s", out)
	}
	if out := run("-st"); !strings.Contains(out, "200 3") || !strings.Contains(out, "503 3") {
		t.Errorf("halog -st: %s", out)
	}
	out := run("-ic")
	pseudo := (&Privacy{Pseudonym: true}).Client(netip.MustParseAddrPort("10.0.1.2:1"), day).Addr().String()
	for _, want := range []string{"\n2 0 20 10 20 10 2750 5500 10.0.1.0\n", " 2001:db8::\n", "\n2 0 20 10 20 10 2750 5500 " + pseudo + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("halog -ic lacks %q:\n%s", want, out)
		}
	}
}

func TestAppendRecordNoAlloc(t *testing.T) {
	r := sampleHTTP()
	buf := make([]byte, 0, 1024)
	for name, fl := range map[string]*FrontendLog{
		"format":    mustFL(t, logformat.HTTPLog, nil),
		"mask":      mustFL(t, "", &Privacy{V4Bits: 24, V6Bits: 48}),
		"pseudonym": mustFL(t, "%ci:%cp %{+Q}r", &Privacy{Pseudonym: true}),
	} {
		AppendRecord(buf[:0], r, fl) // the day's key is made once
		if a := testing.AllocsPerRun(100, func() { buf = AppendRecord(buf[:0], r, fl) }); a != 0 {
			t.Errorf("%s: %v allocs per line", name, a)
		}
	}
}

func BenchmarkAppendFormatHTTPLog(b *testing.B) {
	r := sampleHTTP()
	fl := mustFL(b, logformat.HTTPLog, nil)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendRecord(buf[:0], r, fl)
	}
}

func BenchmarkAppendPseudonym(b *testing.B) {
	r := sampleHTTP()
	fl := mustFL(b, "", &Privacy{Pseudonym: true})
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendRecord(buf[:0], r, fl)
	}
}
