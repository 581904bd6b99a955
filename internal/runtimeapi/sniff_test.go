package runtimeapi

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sniffServer serves Sniff on a temp unix socket with a tiny HTTP API
// behind it; it returns the socket path.
func sniffServer(t *testing.T, o SniffOptions) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctl.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if o.Backend == nil {
		o.Backend = newFake()
	}
	hl := Sniff(ctx, l, o)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "http %s %s", r.Method, r.URL.Path)
	})}
	go srv.Serve(hl)
	t.Cleanup(func() {
		cancel()
		srv.Close()
		l.Close()
	})
	return path
}

func httpGet(path string) (string, error) {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}}
	resp, err := hc.Get("http://lbd/v1/status")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func textCommand(path, cmd string) (string, error) {
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

func TestSniffBothProtocols(t *testing.T) {
	path := sniffServer(t, SniffOptions{Level: func() Level { return LevelAdmin }})
	if got, err := httpGet(path); err != nil || got != "http GET /v1/status" {
		t.Fatalf("http: %q %v", got, err)
	}
	if got, err := textCommand(path, "show backend"); err != nil || got != "# name\nbe\n\n" {
		t.Fatalf("text: %q %v", got, err)
	}
	// A one-word command shorter than any method still gets answered.
	if got, err := textCommand(path, "x"); err != nil || got == "" {
		t.Fatalf("short command: %q %v", got, err)
	}
}

func TestSniffRefusesHTTPChanges(t *testing.T) {
	path := sniffServer(t, SniffOptions{AllowHTTP: func(_ net.Conn, m string) bool { return m == "GET" }})
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "POST /v1/reload HTTP/1.1\r\nHost: lbd\r\nContent-Length: 0\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST: %v %v", resp, err)
	}
}

// Hostile clients: idle ones, garbage, huge lines and 1,000 at once are
// answered or closed, and the HTTP API keeps working meanwhile.
func TestSniffUnderAbuse(t *testing.T) {
	path := sniffServer(t, SniffOptions{FirstByte: 300 * time.Millisecond, MaxPending: 512})
	// An idle client is closed after FirstByte.
	idle, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if n, err := idle.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("idle client: n=%d err=%v", n, err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("idle client closed after %v", el)
	}
	idle.Close()

	var answered, closed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var cmd string
			switch i % 4 {
			case 0:
				cmd = "show stat"
			case 1:
				cmd = string([]byte{0, 0xff, 0x1b, '[', 'A', 0x7f, 0x80})
			case 2:
				cmd = "get weight be/web01;" + string(make([]byte, 20<<10))
			case 3:
				cmd = "" // connect, send nothing more than a newline
			}
			out, _ := textCommand(path, cmd)
			// An answer may be followed by a reset: the server closes
			// with the rest of an over-long line unread.
			if out != "" {
				answered.Add(1)
			} else {
				closed.Add(1)
			}
		}(i)
	}
	wg.Wait()
	t.Logf("1000 parallel clients: %d answered, %d closed", answered.Load(), closed.Load())
	if answered.Load() == 0 {
		t.Fatal("no client was answered")
	}
	if got, err := httpGet(path); err != nil || got != "http GET /v1/status" {
		t.Fatalf("http after the abuse: %q %v", got, err)
	}
	// A 1 MB line is refused and the connection closed.
	out, _ := textCommand(path, string(make([]byte, 1<<20)))
	if out != "Command line too long.\n\n" && out != "" {
		t.Fatalf("1 MB line: %.80q", out)
	}
}
