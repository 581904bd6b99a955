package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// startStopping starts an engine and a soft stop (Shutdown with limit)
// once prepare has run; it returns Shutdown's result channel.
func startStopping(t *testing.T, e *Engine, limit time.Duration) chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		defer cancel()
		done <- e.Shutdown(ctx)
	}()
	waitFor(t, "the soft stop", e.stopping.Load)
	return done
}

// TestSoftStop: Shutdown never closes a connection on which a request may
// be arriving. An in-flight request finishes with Connection: close; an
// idle keep-alive connection and a connection that has sent nothing yet
// each get their next request answered with Connection: close, then
// close; the listener no longer accepts.
func TestSoftStop(t *testing.T) {
	release := make(chan struct{})
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		w.Write([]byte("done"))
	})
	e, addr, _ := startEngine(t, testConfig(srv("a", a.addr())))
	idle := dialRaw(t, addr)
	if res, _ := idle.get("/"); res.StatusCode != 200 || res.Close {
		t.Fatalf("before the stop: %d close=%v", res.StatusCode, res.Close)
	}
	fresh := dialRaw(t, addr)
	busy := dialRaw(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	waitFor(t, "busy request", func() bool { return e.Backends()[0].Sessions == 1 })
	done := startStopping(t, e, 5*time.Second)
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still accepting during the soft stop")
	}
	for name, rc := range map[string]*rawClient{"idle keep-alive": idle, "fresh": fresh} {
		if res, body := rc.get("/"); res.StatusCode != 200 || body != "done" || !res.Close {
			t.Errorf("%s connection during the soft stop: %d %q close=%v", name, res.StatusCode, body, res.Close)
		}
		rc.expectClosed()
	}
	select {
	case err := <-done:
		t.Fatalf("shutdown returned with a request in flight: %v", err)
	default:
	}
	close(release)
	res, body := busy.resp("GET")
	if res.StatusCode != 200 || body != "done" || !res.Close {
		t.Errorf("in-flight request during shutdown: %d %q close=%v", res.StatusCode, body, res.Close)
	}
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// TestSoftStopIdleExpiry: an idle keep-alive connection that sends nothing
// closes at its http_keep_alive expiry, and Shutdown returns then; with a
// hard-stop bound shorter than that, Shutdown closes it at the bound.
func TestSoftStopIdleExpiry(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ka, limit time.Duration
		wantErr   error
	}{
		{"keep-alive expiry", 400 * time.Millisecond, 5 * time.Second, nil},
		{"hard-stop bound", time.Minute, 300 * time.Millisecond, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newBackend(t, "a", nil)
			cfg := testConfig(srv("a", a.addr()))
			cfg.Frontends[0].KeepAliveTimeout = tc.ka
			e, addr, _ := startEngine(t, cfg)
			rc := dialRaw(t, addr)
			if res, _ := rc.get("/"); res.StatusCode != 200 {
				t.Fatal(res.StatusCode)
			}
			t0 := time.Now()
			done := startStopping(t, e, tc.limit)
			rc.expectClosed()
			err := <-done
			took := time.Since(t0)
			if !errors.Is(err, tc.wantErr) && err != tc.wantErr {
				t.Errorf("shutdown: %v, want %v", err, tc.wantErr)
			}
			if want := min(tc.ka, tc.limit); took < want*3/4 || took > want+time.Second {
				t.Errorf("closed after %v, want about %v", took, want)
			}
		})
	}
}

// TestSoftStopTCP: a TCP session keeps forwarding during a soft stop until
// it ends; Shutdown returns then.
func TestSoftStopTCP(t *testing.T) {
	ln := serveLoopback(t, func(c net.Conn) { io.Copy(c, c) })
	cfg := testConfig(srv("db", ln.Addr().String()))
	cfg.Frontends[0].Mode, cfg.Backends[0].Mode = ModeTCP, ModeTCP
	e, addr, _ := startEngine(t, cfg)
	rc := dialRaw(t, addr)
	echo := func(s string) {
		t.Helper()
		rc.send(s)
		buf := make([]byte, len(s))
		if _, err := io.ReadFull(rc.r, buf); err != nil || string(buf) != s {
			t.Fatalf("echo %q: %q %v", s, buf, err)
		}
	}
	echo("before")
	done := startStopping(t, e, 5*time.Second)
	for i := 0; i < 3; i++ {
		time.Sleep(50 * time.Millisecond)
		echo("during the soft stop")
	}
	select {
	case err := <-done:
		t.Fatalf("shutdown returned with a session open: %v", err)
	default:
	}
	rc.c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("shutdown did not return after the session ended")
	}
}
