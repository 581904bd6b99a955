package daemon

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/acme/acmetest"
	"github.com/lbd-ha/lbd/internal/control"
)

// tlsLoad is a strict HTTPS load: fresh workers open a new TLS connection
// for every request (Connection: close), keep-alive workers reuse theirs
// until the server closes it. Nothing is retried: a failed dial, handshake,
// write or read, an incomplete response or a non-200 counts as failed.
// Every handshake's leaf certificate is recorded, so a test can tell which
// certificate new handshakes see and whether connections opened with the
// old one keep serving after a swap. Each worker is bounded to 50000
// requests and limit.
type tlsLoad struct {
	total, failed, handshakes atomic.Int64
	firstErr                  atomic.Value
	stopc                     chan struct{}
	wg                        sync.WaitGroup

	// mark is a fingerprint: once set, the handshakes seeing it or
	// another one are counted; swapAt is when the first handshake saw it
	// (Unix ns). After that, requests served on keep-alive connections
	// whose handshake saw another certificate are counted.
	mark         atomic.Value // string
	swapAt       atomic.Int64
	freshMarked  atomic.Int64
	freshOther   atomic.Int64 // handshakes after the mark with another certificate
	oldServed    atomic.Int64 // requests after swapAt on keep-alive connections with another certificate
	oldConns     sync.Map     // *tls.Conn -> struct{} (connections counted in oldServed)
	kaHandshakes atomic.Int64 // handshakes of the keep-alive workers
	kaClosed     atomic.Int64 // responses on keep-alive connections that said Connection: close

	mu    sync.Mutex
	seen  map[string]int64 // fingerprint -> handshakes
	kaSeq [][]string       // per keep-alive worker, its connections' certificates in order
}

func startTLSLoad(addr, sni string, fresh, keepAlive int, limit time.Duration) *tlsLoad {
	l := &tlsLoad{stopc: make(chan struct{}), seen: map[string]int64{}}
	l.mark.Store("")
	req := []byte("GET / HTTP/1.1\r\nHost: " + sni + "\r\nUser-Agent: lbd-strict-tls-load\r\n\r\n")
	reqClose := []byte("GET / HTTP/1.1\r\nHost: " + sni + "\r\nUser-Agent: lbd-strict-tls-load\r\nConnection: close\r\n\r\n")
	cfg := &tls.Config{ServerName: sni, InsecureSkipVerify: true} // no session cache: every handshake is a full one
	for w := 0; w < fresh+keepAlive; w++ {
		isFresh := w < fresh
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			var c *tls.Conn
			var br *bufio.Reader
			var fp string
			var seq []string
			defer func() {
				if c != nil {
					c.Close()
				}
				if !isFresh {
					l.mu.Lock()
					l.kaSeq = append(l.kaSeq, seq)
					l.mu.Unlock()
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
					c, fp, err = l.dial(addr, cfg)
					if err != nil {
						l.fail(err)
						time.Sleep(time.Millisecond)
						continue
					}
					if !isFresh {
						l.kaHandshakes.Add(1)
						seq = append(seq, fp)
					}
					br = bufio.NewReader(c)
				}
				r := req
				if isFresh {
					r = reqClose
				}
				keep, err := tlsRoundTrip(c, br, r)
				if err != nil {
					l.fail(err)
				} else if m := l.mark.Load().(string); !isFresh && m != "" && fp != m && l.swapAt.Load() != 0 {
					l.oldServed.Add(1)
					l.oldConns.Store(c, struct{}{})
				}
				if err == nil && !keep && !isFresh {
					l.kaClosed.Add(1)
				}
				if err != nil || !keep || isFresh {
					c.Close()
					c = nil
				}
			}
		}()
	}
	return l
}

func (l *tlsLoad) dial(addr string, cfg *tls.Config) (*tls.Conn, string, error) {
	d := &net.Dialer{Timeout: 2 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, "", fmt.Errorf("handshake: %w", err)
	}
	fp := fmt.Sprintf("%x", sha256.Sum256(c.ConnectionState().PeerCertificates[0].Raw))
	l.handshakes.Add(1)
	l.mu.Lock()
	l.seen[fp]++
	l.mu.Unlock()
	if m := l.mark.Load().(string); m != "" {
		if fp == m {
			l.freshMarked.Add(1)
			l.swapAt.CompareAndSwap(0, time.Now().UnixNano())
		} else {
			l.freshOther.Add(1)
		}
	}
	return c, fp, nil
}

// tlsRoundTrip sends req and reads the whole response.
func tlsRoundTrip(c net.Conn, br *bufio.Reader, req []byte) (keep bool, err error) {
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
	if resp.StatusCode != 200 {
		return false, fmt.Errorf("status %d", resp.StatusCode)
	}
	return !resp.Close, nil
}

func (l *tlsLoad) fail(err error) {
	l.failed.Add(1)
	l.firstErr.CompareAndSwap(nil, err.Error())
}

func (l *tlsLoad) stop() {
	close(l.stopc)
	l.wg.Wait()
}

// TestACMERenewUnderLoad: `lbctl acme renew` replaces the certificate of
// a TLS bind while 8 clients open a new TLS connection for every request
// and 8 more keep theirs alive. No request fails; new handshakes after the
// renewal get the new certificate (another fingerprint and serial), and
// the keep-alive connections opened with the old one keep serving.
func TestACMERenewUnderLoad(t *testing.T) {
	lab := acmetest.Start(t)
	st := t.TempDir()
	tlsAddr := freeAddr(t)
	be := newBackend(t, "web01")
	_, certs := ACMEDirs(st)
	td := startDaemon(t, fmt.Sprintf(`global:
  control_socket: %%SOCK%%
frontends:
  - name: web
    bind: ['127.0.0.1:%d', {address: '%s', ssl: {crt: ['%s/']}}]
    default_backend: app
backends:
  - name: app
    retries: 0
    servers:
      - name: web01
        address: %s
tls:
  acme:
    directory: %s
    ca: %s
    certificates: [[www.lbd.test]]
    state_dir: %s
`, lab.HTTPPort, tlsAddr, certs, be.srv.Listener.Addr().String(), lab.DirURL, lab.CAFile, st))
	f := filepath.Join(certs, "www.lbd.test.pem")
	served := func() string {
		conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{ServerName: "www.lbd.test", InsecureSkipVerify: true})
		if err != nil {
			return "err: " + err.Error()
		}
		defer conn.Close()
		return fmt.Sprintf("%x", sha256.Sum256(conn.ConnectionState().PeerCertificates[0].Raw))
	}
	acmeWaitFor(t, 30*time.Second, "first certificate", func() bool { _, err := os.Stat(f); return err == nil })
	acmeWaitFor(t, 10*time.Second, "first certificate served", func() bool { return served() == leafSum(t, f) })
	old, oldSerial := leafSum(t, f), leafSerial(t, tlsAddr, "www.lbd.test")
	c := &control.Client{Socket: td.sock, Timeout: time.Minute}
	oldStatus, err := c.ACMEStatus(context.Background())
	if err != nil || len(oldStatus.Certificates) != 1 {
		t.Fatalf("acme status: %+v %v", oldStatus, err)
	}

	const fresh, keepAlive = 8, 8
	ld := startTLSLoad(tlsAddr, "www.lbd.test", fresh, keepAlive, 30*time.Second)
	time.Sleep(time.Second)
	before := ld.total.Load()
	t0 := time.Now()
	if err := c.ACMERenew(context.Background(), "www.lbd.test"); err != nil {
		ld.stop()
		t.Fatal(err)
	}
	renewTook := time.Since(t0)
	renewed := leafSum(t, f)
	if renewed == old {
		ld.stop()
		t.Fatal("lbctl acme renew returned and the certificate file is unchanged")
	}
	ld.mark.Store(renewed)
	// New handshakes see the new certificate once the reload ACME
	// triggered has loaded it.
	deadline := time.Now().Add(10 * time.Second)
	for ld.freshMarked.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	swapped := time.Since(t0)
	// Let the new certificate serve a while, and count the handshakes
	// after that (all must see it).
	time.Sleep(500 * time.Millisecond)
	otherAtSteady := ld.freshOther.Load()
	time.Sleep(time.Second)
	ld.stop()
	otherAfter := ld.freshOther.Load() - otherAtSteady

	total, failed := ld.total.Load(), ld.failed.Load()
	moved := 0 // keep-alive clients that started on the old certificate and ended on the new one
	for _, seq := range ld.kaSeq {
		if len(seq) > 0 && seq[0] == old && seq[len(seq)-1] == renewed {
			moved++
		}
	}
	oldConns := 0
	ld.oldConns.Range(func(any, any) bool { oldConns++; return true })
	t.Logf("%d requests (%d before the renewal), %d TLS handshakes, %d failed; renewal took %v, new handshakes got the new certificate %v after the renew call",
		total, before, ld.handshakes.Load(), failed, renewTook.Round(time.Millisecond), swapped.Round(time.Millisecond))
	t.Logf("after the renew call: %d handshakes got the old certificate (until the reload loaded the new file), %d the new one, none with the old one from 0.5 s after the swap: %v",
		ld.freshOther.Load(), ld.freshMarked.Load(), otherAfter == 0)
	t.Logf("keep-alive: %d connections for %d clients over the run, %d closed by lbd with Connection: close after a complete response; after the swap %d requests finished on %d connections opened with the old certificate; %d clients reconnected onto the new one",
		ld.kaHandshakes.Load(), keepAlive, ld.kaClosed.Load(), ld.oldServed.Load(), oldConns, int64(moved))
	if failed != 0 {
		t.Errorf("%d of %d requests failed across the renewal; first: %v", failed, total, ld.firstErr.Load())
	}
	if ld.freshMarked.Load() == 0 {
		t.Fatalf("no new handshake saw the renewed certificate within 10 s; seen: %v", ld.seen)
	}
	if otherAfter != 0 {
		t.Errorf("%d handshakes got the old certificate more than 0.5 s after the new one was first served", otherAfter)
	}
	// A reload lets a keep-alive connection finish the request in hand
	// and then closes it (Connection: close, docs/tls.md "Reload"): no
	// connection was cut, each was closed after a complete response, and
	// every keep-alive client is on the new certificate after its
	// reconnection.
	if ld.kaHandshakes.Load()-keepAlive != ld.kaClosed.Load() || int64(moved) != keepAlive {
		t.Errorf("keep-alive: %d connections for %d clients, %d closed after a complete response, %d clients moved to the new certificate; want every reconnection after a Connection: close and all %d clients moved",
			ld.kaHandshakes.Load(), keepAlive, ld.kaClosed.Load(), int64(moved), keepAlive)
	}
	if ld.total.Load()-before < 100 {
		t.Errorf("only %d requests during and after the renewal", ld.total.Load()-before)
	}
	newStatus, err := c.ACMEStatus(context.Background())
	if err != nil || len(newStatus.Certificates) != 1 || newStatus.Certificates[0].State != "valid" || newStatus.Certificates[0].Fingerprint == oldStatus.Certificates[0].Fingerprint {
		t.Fatalf("acme status after renewal: %+v %v (before: %+v)", newStatus, err, oldStatus)
	}
	newSerial := leafSerial(t, tlsAddr, "www.lbd.test")
	if newSerial == oldSerial || newSerial != fileSerial(t, f) {
		t.Errorf("served serial %s before the renewal, %s after, file %s", oldSerial, newSerial, fileSerial(t, f))
	}
	t.Logf("served serial %s -> %s, sha256 %s… -> %s…", oldSerial, newSerial, old[:16], renewed[:16])
}

func fileSerial(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := pem.Decode(b)
	if p == nil {
		t.Fatalf("%s: no PEM", file)
	}
	crt, err := x509.ParseCertificate(p.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return crt.SerialNumber.String()
}
