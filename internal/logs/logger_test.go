package logs

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
)

var fixedClock = func() time.Time { return time.Date(2026, time.March, 5, 9, 7, 3, 0, time.UTC) }

// listenUDP opens a syslog receiver on a random loopback port.
func listenUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recvLine(t *testing.T, c *net.UDPConn) string {
	t.Helper()
	buf := make([]byte, 65536)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := c.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("receive syslog datagram: %v", err)
	}
	return string(buf[:n])
}

func TestSyslogUDPByteForByte(t *testing.T) {
	rx := listenUDP(t)
	targets := []config.LogTarget{{Address: rx.LocalAddr().String(), Facility: "local2"}}
	l, err := NewLogger(targets, Options{PID: 4242, Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	l.Log(sampleHTTP())
	// local2 (18) * 8 + info (6) = 150; day space-padded; no hostname.
	want := `<150>Mar  5 09:07:03 lbd[4242]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"`
	if got := recvLine(t, rx); got != want {
		t.Fatalf("\n got %q\nwant %q", got, want)
	}

	tcp := sampleHTTP()
	tcp.TCP, tcp.Termination = true, "--"
	l.Log(tcp)
	want = `<150>Mar  5 09:07:03 lbd[4242]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 0/30/109 2750 -- 1/1/1/1/0 0/0`
	if got := recvLine(t, rx); got != want {
		t.Fatalf("\n got %q\nwant %q", got, want)
	}
}

func TestSyslogHostnameTagAndLevels(t *testing.T) {
	rx := listenUDP(t)
	notice := listenUDP(t)
	targets := []config.LogTarget{
		{Address: rx.LocalAddr().String(), Facility: "daemon", Level: "debug"},
		{Address: "udp://" + notice.LocalAddr().String(), Facility: "local0", Level: "notice"},
	}
	clock := func() time.Time { return time.Date(2026, time.December, 25, 23, 59, 59, 0, time.UTC) }
	l, err := NewLogger(targets, Options{PID: 7, Now: clock, Hostname: "lb1", Tag: "lbd-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	log := slog.New(l.Handler(slog.LevelDebug))

	l.Log(sampleHTTP()) // info: only the debug target
	log.Warn("server down", "backend", "web", "server", "web 01", "reason", "Layer4\nconnection refused")
	log.With("instance", "VI_1").Debug("advert") // debug: only the debug target

	want := []string{
		`<30>Dec 25 23:59:59 lb1 lbd-test[7]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"`,
		`<28>Dec 25 23:59:59 lb1 lbd-test[7]: server down backend=web server="web 01" reason="Layer4\nconnection refused"`,
		`<31>Dec 25 23:59:59 lb1 lbd-test[7]: advert instance=VI_1`,
	}
	for i, w := range want {
		if got := recvLine(t, rx); got != w {
			t.Errorf("line %d:\n got %q\nwant %q", i, got, w)
		}
	}
	// local0 (16) * 8 + warning (4) = 132; the info and debug lines are filtered.
	w := `<132>Dec 25 23:59:59 lb1 lbd-test[7]: server down backend=web server="web 01" reason="Layer4\nconnection refused"`
	if got := recvLine(t, notice); got != w {
		t.Errorf("notice target:\n got %q\nwant %q", got, w)
	}
	_ = notice.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, _, err := notice.ReadFromUDP(make([]byte, 100)); err == nil {
		t.Errorf("notice target received an extra %d-byte line", n)
	}
}

func TestStdoutTarget(t *testing.T) {
	var out bytes.Buffer
	l, err := NewLogger([]config.LogTarget{{Address: "stdout"}}, Options{Stdout: &out, Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	l.Log(sampleHTTP())
	slog.New(l.Handler(nil)).Error("must not reach stdout")
	l.Log(sampleHTTP())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	line := string(AppendHTTP(nil, sampleHTTP())) + "\n"
	if got := out.String(); got != line+line {
		t.Fatalf("stdout got %q, want two bare lines %q", got, line)
	}
	l.Log(sampleHTTP()) // after Close: discarded, no panic
	if l.Close() != nil {
		t.Fatal("second Close errs")
	}
}

// blockingSink blocks every write until released, signalling each entry.
type blockingSink struct {
	entered chan struct{}
	release chan struct{}
	n       int
}

func (s *blockingSink) Write(p []byte) error {
	s.entered <- struct{}{}
	<-s.release
	s.n++
	return nil
}
func (s *blockingSink) Close() error { return nil }

func TestStalledTargetDropsAndCounts(t *testing.T) {
	s := &blockingSink{entered: make(chan struct{}, 100), release: make(chan struct{})}
	const q = 8
	l := newLoggerWithSinks([]target{{facility: 16, level: Debug, sink: s}}, Options{QueueSize: q, Now: fixedClock, Tag: "lbd", PID: 1})
	r := sampleHTTP()
	l.Log(r)
	<-s.entered // the writer holds line 1 and is stuck
	for i := 0; i < q+50; i++ {
		l.Log(r) // must return although nothing drains
	}
	if got := l.Dropped(); got != 50 {
		t.Fatalf("Dropped() = %d, want 50", got)
	}
	close(s.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if s.n != 1+q {
		t.Fatalf("target wrote %d lines, want %d", s.n, 1+q)
	}
}

func TestStalledUnixSocketDoesNotBlock(t *testing.T) {
	dir, err := os.MkdirTemp("", "lbdlog")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "log.sock")
	rx, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rx.Close() })
	// Nobody reads rx: its receive queue fills and writes block.
	l, err := NewLogger([]config.LogTarget{{Address: "unix://" + path}}, Options{QueueSize: 16, WriteTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r := sampleHTTP()
	for i := 0; i < 5000; i++ {
		l.Log(r)
	}
	if l.Dropped() == 0 {
		t.Fatal("no line dropped although the socket is never read")
	}
	_ = l.Close()
	buf := make([]byte, 4096)
	n, err := rx.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "<134>") || !strings.HasSuffix(string(buf[:n]), `"GET /index.html HTTP/1.1"`) {
		t.Fatalf("first datagram %q, %v", buf[:n], err)
	}
}

func TestNewLoggerErrors(t *testing.T) {
	bad := []config.LogTarget{
		{Address: "127.0.0.1", Facility: "local9"},
		{Address: "127.0.0.1", Level: "loud"},
		{Address: ""},
		{Address: "unix://relative"},
		{Address: "127.0.0.1:99999"},
		{Address: "[::1"},
	}
	for _, b := range bad {
		if _, err := NewLogger([]config.LogTarget{b}, Options{}); err == nil {
			t.Errorf("NewLogger(%+v) accepted", b)
		}
	}
	var nl *Logger
	nl.Log(sampleHTTP()) // nil logger discards
	if nl.Dropped() != 0 || nl.Close() != nil {
		t.Fatal("nil logger misbehaves")
	}
}

func TestParseAddress(t *testing.T) {
	tests := map[string]parsedAddr{
		"127.0.0.1":                   {kindUDP, "127.0.0.1:514"},
		"127.0.0.1:5514":              {kindUDP, "127.0.0.1:5514"},
		"::1":                         {kindUDP, "[::1]:514"},
		"[::1]:5514":                  {kindUDP, "[::1]:5514"},
		"udp://10.0.0.1":              {kindUDP, "10.0.0.1:514"},
		"loghost":                     {kindUDP, "loghost:514"},
		"loghost:1514":                {kindUDP, "loghost:1514"},
		"unix:///dev/log":             {kindUnix, "/dev/log"},
		"/run/systemd/journal/syslog": {kindUnix, "/run/systemd/journal/syslog"},
		"stdout":                      {kindStdout, ""},
		"stderr":                      {kindStderr, ""},
	}
	for in, want := range tests {
		got, err := parseAddress(in)
		if err != nil || got != want {
			t.Errorf("parseAddress(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
}

func TestParseFacilitySeverity(t *testing.T) {
	if f, err := ParseFacility(""); err != nil || f != 16 {
		t.Errorf("default facility %d %v", f, err)
	}
	if f, err := ParseFacility("LOCAL7"); err != nil || f != 23 {
		t.Errorf("local7 = %d %v", f, err)
	}
	if s, err := ParseSeverity(""); err != nil || s != Info {
		t.Errorf("default level %d %v", s, err)
	}
	if s, err := ParseSeverity("err"); err != nil || s != Err {
		t.Errorf("err = %d %v", s, err)
	}
	if severityOf(slog.LevelError+4) != Err || severityOf(slog.LevelDebug) != Debug || severityOf(slog.LevelWarn) != Warning {
		t.Error("slog level mapping")
	}
	_ = context.Background()
}

func TestLogNoAlloc(t *testing.T) {
	s := &countSink{wrote: make(chan struct{}, 1024)}
	l := newLoggerWithSinks([]target{{facility: 16, level: Debug, sink: s}}, Options{QueueSize: 4096, Now: fixedClock, Tag: "lbd", PID: 1})
	defer l.Close()
	r := sampleHTTP()
	for i := 0; i < 10; i++ { // warm the free list
		l.Log(r)
		<-s.wrote
	}
	// AllocsPerRun runs with GOMAXPROCS=1: wait for each line to be written
	// so the drain goroutine recycles its entry.
	if a := testing.AllocsPerRun(200, func() { l.Log(r); <-s.wrote }); a != 0 {
		t.Fatalf("Log allocates %v per record", a)
	}
}

type countSink struct {
	n     int
	wrote chan struct{}
}

func (s *countSink) Write(p []byte) error {
	s.n++
	if s.wrote != nil {
		s.wrote <- struct{}{}
	}
	return nil
}
func (s *countSink) Close() error { return nil }

func BenchmarkLoggerLog(b *testing.B) {
	l := newLoggerWithSinks([]target{{facility: 16, level: Debug, sink: &countSink{}}}, Options{QueueSize: 4096, Now: time.Now, Tag: "lbd", PID: 1})
	defer l.Close()
	r := sampleHTTP()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Log(r)
		}
	})
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "[::1]:514", "unix:///dev/log", "stdout", "a:b:c", "udp://[", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pa, err := parseAddress(s)
		if err == nil && pa.kind == kindUDP {
			if _, _, err := net.SplitHostPort(pa.addr); err != nil {
				t.Fatalf("parseAddress(%q) gave unusable %q", s, pa.addr)
			}
		}
	})
}
