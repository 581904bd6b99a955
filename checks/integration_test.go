package checks

import (
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These tests run real checks against loopback servers with short
// intervals. Their time bounds are generous: they assert correctness (the
// number of checks, the codes), not speed.

// appServer is a loopback HTTP app whose answer can be switched at run time
// and that counts the answers of each kind it gave.
type appServer struct {
	mode   atomic.Value // "ok", "500", "hang"
	n200   atomic.Int64
	n500   atomic.Int64
	hangs  atomic.Int64
	stop   chan struct{}
	ln     net.Listener
	connWG sync.WaitGroup
}

func newAppServer(t *testing.T) *appServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &appServer{ln: ln, stop: make(chan struct{})}
	a.mode.Store("ok")
	a.connWG.Add(1)
	go func() {
		defer a.connWG.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.connWG.Add(1)
			go a.serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		close(a.stop)
		a.connWG.Wait()
	})
	return a
}

func (a *appServer) serve(c net.Conn) {
	defer a.connWG.Done()
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	var req []byte
	for !strings.Contains(string(req), "\r\n\r\n") {
		n, err := c.Read(buf)
		req = append(req, buf[:n]...)
		if err != nil || len(req) > 8192 {
			return
		}
	}
	switch a.mode.Load().(string) {
	case "ok":
		a.n200.Add(1)
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK"))
	case "500":
		a.n500.Add(1)
		c.Write([]byte("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
	case "hang":
		a.hangs.Add(1)
		select {
		case <-a.stop:
		case <-time.After(3 * time.Second):
		}
	}
}

func (a *appServer) addr() string { return a.ln.Addr().String() }

// waitEvent returns the next event or fails after d.
func waitEvent(t *testing.T, ch <-chan Event, d time.Duration) Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(d):
		t.Fatalf("no event within %v", d)
	}
	return Event{}
}

func httpBackend(name string, servers ...ServerSpec) Backend {
	return be(name, &CheckSpec{HTTP: true, Method: "GET", URI: "/health_check.php", Version: "HTTP/1.0"}, servers...)
}

// withTimeouts sets the connect and check timeouts of b's checks (0: unset).
func withTimeouts(b Backend, connect, check time.Duration) Backend {
	for _, s := range b.Servers {
		if s.Check != nil {
			s.Check.ConnectTimeout, s.Check.CheckTimeout = connect, check
		}
	}
	return b
}

func TestLoopback500LeavesRotation(t *testing.T) {
	const (
		inter = 40 * time.Millisecond
		rise  = 2
		fall  = 3
	)
	app := newAppServer(t)
	other := newAppServer(t)
	ch := make(chan Event, 16)
	var at500, at200 atomic.Int64 // the app's counters when the event fired
	m := New(Options{OnChange: func(e Event) {
		if e.Server == "web01" {
			at500.Store(app.n500.Load())
			at200.Store(app.n200.Load())
		}
		ch <- e
	}})
	defer m.Close()
	mk := func(name, addr string) ServerSpec {
		return srv(name, addr, func(s *ServerSpec) { s.Params.Inter, s.Params.Rise, s.Params.Fall = inter, rise, fall })
	}
	b := httpBackend("app_servers", mk("web01", app.addr()), mk("web02", other.addr()))
	// A long read timeout: a slow loaded machine must not turn a 200 or
	// 500 into a timeout and skew the counts.
	b = withTimeouts(b, 0, 2*time.Second)
	if err := m.Apply(cfgOf(0, b)); err != nil {
		t.Fatal(err)
	}
	// Wait until web01 is fully up (a first successful check).
	deadline := time.Now().Add(5 * time.Second)
	for {
		if cs, _, _ := m.Status("app_servers", "web01"); cs.Result == "L7OK" && cs.Health == rise+fall-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("web01 never passed a check")
		}
		time.Sleep(5 * time.Millisecond)
	}
	flip := time.Now()
	app.mode.Store("500")
	e := waitEvent(t, ch, 5*time.Second)
	detect := time.Since(flip)
	if e.Server != "web01" || e.Up || e.State != StateDown || e.Reason != "Layer7 wrong status" {
		t.Fatalf("event %+v", e)
	}
	if !strings.HasPrefix(e.Message, "Server app_servers/web01 is DOWN, reason: Layer7 wrong status, code: 500, check duration: ") ||
		!strings.HasSuffix(e.Message, "ms. 1 active and 0 backup servers left.") {
		t.Fatalf("message %q", e.Message)
	}
	// Exactly fall failed checks took it out of rotation.
	if n := at500.Load(); n != fall {
		t.Fatalf("DOWN after %d failed checks, want %d", n, fall)
	}
	// Detection: between (fall-1) and fall intervals after the flip, plus
	// slack for a loaded machine.
	if detect < (fall-1)*inter-5*time.Millisecond || detect > fall*inter+inter+500*time.Millisecond {
		t.Fatalf("detection %v, want about %v", detect, fall*inter)
	}
	if m.Usable("app_servers", "web01") || !m.Usable("app_servers", "web02") {
		t.Fatal("usability wrong after DOWN")
	}
	t.Logf("detection %v (fall x inter = %v)", detect, fall*inter)

	// Recovery after rise successes.
	base := app.n200.Load()
	app.mode.Store("ok")
	e = waitEvent(t, ch, 5*time.Second)
	if e.Server != "web01" || !e.Up || e.State != StateUp {
		t.Fatalf("event %+v", e)
	}
	if n := at200.Load() - base; n != rise {
		t.Fatalf("UP after %d successes, want %d", n, rise)
	}
	if !strings.HasSuffix(e.Message, "ms. 2 active and 0 backup servers online.") {
		t.Fatalf("message %q", e.Message)
	}
	si, _ := m.Info("app_servers", "web01")
	if si.Transitions != 2 || si.Downtime <= 0 {
		t.Fatalf("counters %+v", si)
	}
}

func TestLoopbackHangingAppTimesOut(t *testing.T) {
	app := newAppServer(t)
	app.mode.Store("hang")
	ch := make(chan Event, 4)
	m := New(Options{OnChange: func(e Event) { ch <- e }})
	defer m.Close()
	b := httpBackend("app_servers", srv("web01", app.addr(), func(s *ServerSpec) { s.Params.Inter, s.Params.Fall = 50*time.Millisecond, 2 }))
	b = withTimeouts(b, time.Second, 60*time.Millisecond)
	if err := m.Apply(cfgOf(0, b)); err != nil {
		t.Fatal(err)
	}
	// A server starts UP with health=rise: the first failure marks it DOWN.
	e := waitEvent(t, ch, 5*time.Second)
	if e.Up || e.Reason != "Layer7 timeout" {
		t.Fatalf("event %+v", e)
	}
	cs, st, ok := m.Status("app_servers", "web01")
	if !ok || st != StateDown || cs.Result != "L7TOUT" || cs.Duration < 55*time.Millisecond || cs.Type != "http" {
		t.Fatalf("status %s %+v", st, cs)
	}
	if app.hangs.Load() == 0 {
		t.Fatal("the app never saw the check")
	}
}

func TestLoopbackTCPAndCheckPort(t *testing.T) {
	traffic := newAppServer(t)
	health := newAppServer(t)
	ch := make(chan Event, 4)
	m := New(Options{OnChange: func(e Event) { ch <- e }})
	defer m.Close()
	dead := closedAddr(t)
	cfg := cfgOf(0,
		httpBackend("b", srv("s1", traffic.addr(), func(s *ServerSpec) { s.Params.Inter, s.Check.Addr = 30*time.Millisecond, health.addr() })),
		be("t", nil, srv("dead", dead, func(s *ServerSpec) { s.Params.Inter = 30 * time.Millisecond })))
	if err := m.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, ch, 5*time.Second)
	if e.Server != "dead" || e.Up || !strings.Contains(e.Message, `reason: Layer4 connection problem, info: "Connection refused"`) {
		t.Fatalf("event %+v", e)
	}
	deadline := time.Now().Add(5 * time.Second)
	for health.n200.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("check_port not used")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if traffic.n200.Load() != 0 {
		t.Fatal("checks hit the traffic port despite check_port")
	}
}

func TestLoopbackReloadNoLeak(t *testing.T) {
	app := newAppServer(t)
	before := runtime.NumGoroutine()
	m := New(Options{})
	var servers []ServerSpec
	for i := range 8 {
		servers = append(servers, srv("s"+string(rune('a'+i)), app.addr(), func(s *ServerSpec) { s.Params.Inter = 20 * time.Millisecond }))
	}
	for range 5 {
		if err := m.Apply(cfgOf(5, httpBackend("b", servers...))); err != nil {
			t.Fatal(err)
		}
		if m.runningChecks() != len(servers) {
			t.Fatalf("running %d", m.runningChecks())
		}
		time.Sleep(50 * time.Millisecond)
		if err := m.Apply(cfgOf(0)); err != nil {
			t.Fatal(err)
		}
		if m.runningChecks() != 0 {
			t.Fatalf("running %d after removing all", m.runningChecks())
		}
	}
	m.Close()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines %d > %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if app.n200.Load() == 0 {
		t.Fatal("no check ran")
	}
}
