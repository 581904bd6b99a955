package daemon

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// load runs keep-alive client loops against url until stopped, each loop
// bounded to 50000 requests and its time limit (10 s unless given), as
// every load loop in lbd's tests.
//
// The client is strict on purpose: it speaks HTTP/1.1 on raw sockets and
// never retries. A request that gets no complete response, on a fresh
// connection or on a reused keep-alive one, counts as failed, and so does
// a refused connect or a non-200. (Go's http.Client would silently send an
// idempotent request again when a reused connection is closed before any
// response byte: exactly the loss a proxy hand-over can cause.) A
// connection is reused until a response says Connection: close.
type load struct {
	total, failed atomic.Int64
	// closed counts responses with Connection: close (the client then
	// reconnects); reused counts requests sent on a reused connection.
	closed, reused atomic.Int64
	firstErr       atomic.Value
	stopc          chan struct{}
	wg             sync.WaitGroup
}

func startLoad(url string, conns int) *load { return startLoadFor(url, conns, 10*time.Second) }

func startLoadFor(url string, conns int, limit time.Duration) *load {
	l := &load{stopc: make(chan struct{})}
	rest := strings.TrimPrefix(url, "http://")
	host, path, _ := strings.Cut(rest, "/")
	req := []byte("GET /" + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: lbd-strict-load\r\n\r\n")
	for w := 0; w < conns; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			var c net.Conn
			var br *bufio.Reader
			uses := 0
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			deadline := time.Now().Add(limit)
			for n := 0; n < 50000 && time.Now().Before(deadline); n++ {
				select {
				case <-l.stopc:
					return
				default:
				}
				l.total.Add(1)
				if c == nil {
					var err error
					if c, err = net.DialTimeout("tcp", host, 2*time.Second); err != nil {
						l.fail(fmt.Errorf("connect: %w", err))
						c = nil
						time.Sleep(time.Millisecond)
						continue
					}
					br, uses = bufio.NewReader(c), 0
				}
				if uses > 0 {
					l.reused.Add(1)
				}
				uses++
				keep, err := l.roundTrip(c, br, req)
				if err != nil {
					l.fail(fmt.Errorf("request %d on its connection: %w", uses, err))
				}
				if err != nil || !keep {
					c.Close()
					c = nil
				}
			}
		}()
	}
	return l
}

// roundTrip sends req and reads the whole response; keep is false when
// the response closes the connection.
func (l *load) roundTrip(c net.Conn, br *bufio.Reader, req []byte) (keep bool, err error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(req); err != nil {
		return false, fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return false, fmt.Errorf("no response: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, fmt.Errorf("response body: %w", err)
	}
	if resp.Close {
		l.closed.Add(1)
	}
	if resp.StatusCode != 200 {
		return !resp.Close, fmt.Errorf("status %d", resp.StatusCode)
	}
	return !resp.Close, nil
}

func (l *load) fail(err error) {
	l.failed.Add(1)
	l.firstErr.CompareAndSwap(nil, err.Error())
}

// stop ends the loops and returns the request count, the failures and the
// first error seen.
func (l *load) stop() (total, failed int64, firstErr any) {
	close(l.stopc)
	l.wg.Wait()
	return l.total.Load(), l.failed.Load(), l.firstErr.Load()
}

// withKeepAliveFrontend adds a frontend "web-ka" on addr to a test config
// whose defaults set http_server_close: the load tests run one client loop
// against each, server-close and keep-alive to the servers.
func withKeepAliveFrontend(cfg, addr string) string {
	fe := "  - name: web-ka\n    bind: [\"" + addr + "\"]\n    default_backend: app\n    options: {http_server_close: false}\nbackends:\n"
	return strings.Replace(cfg, "backends:\n", fe, 1)
}

// wrkRun is a wrk process started by startWrk.
type wrkRun struct {
	cmd  *exec.Cmd
	out  bytes.Buffer
	done chan error
}

// wrkResult is what wrk reported.
type wrkResult struct {
	Requests, SocketErrors, Non2xx int64
	Report                         string
}

// needWrk returns wrk's path; it skips without it (fails under CI=true).
func needWrk(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("wrk")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("wrk not installed (CI=true): run scripts/need.sh wrk:wrk")
		}
		t.Skip("skipping: wrk not installed (run: sudo scripts/need.sh wrk:wrk)")
	}
	return p
}

// startWrk runs `wrk -t1 -cN` against url for at most limit (wrk itself
// never retries: a connection closed before a response is a read error).
func startWrk(t *testing.T, url string, conns int, limit time.Duration) *wrkRun {
	t.Helper()
	w := &wrkRun{done: make(chan error, 1)}
	w.cmd = exec.Command(needWrk(t), "-t1", fmt.Sprintf("-c%d", conns), fmt.Sprintf("-d%ds", int(limit.Seconds())), "--timeout", "5s", url)
	w.cmd.Stdout, w.cmd.Stderr = &w.out, &w.out
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.done <- w.cmd.Wait() }()
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			w.cmd.Process.Kill()
			<-w.done
		}
	})
	return w
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// stop interrupts wrk (it then prints its report) and parses the report.
func (w *wrkRun) stop(t *testing.T) wrkResult {
	t.Helper()
	w.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		w.cmd.Process.Kill()
		<-w.done
		t.Fatalf("wrk did not stop on SIGINT:\n%s", w.out.String())
	}
	r := wrkResult{Report: w.out.String()}
	m := wrkRequests.FindStringSubmatch(r.Report)
	if m == nil {
		t.Fatalf("wrk report without a request count:\n%s", r.Report)
	}
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	if m := wrkSocket.FindStringSubmatch(r.Report); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.SocketErrors += n
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(r.Report); m != nil {
		r.Non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r
}
