package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/acme/acmetest"
	"github.com/lbd-ha/lbd/internal/control"
)

// TestACMEPairDaemons: two paired daemons manage one name against Pebble
// on loopback. The name resolves to 127.0.0.1, node a's HTTP frontend
// (node b's is on 127.0.0.2), so whichever node orders, the CA validates
// through a's proxy: the token crossed the pair link when b ordered. The
// CA sees one order and both nodes end with the same certificate file.
func TestACMEPairDaemons(t *testing.T) {
	lab := acmetest.Start(t)
	if ln, err := net.Listen("tcp", "127.0.0.2:0"); err != nil {
		t.Skipf("no 127.0.0.2 on loopback: %v", err)
	} else {
		ln.Close()
	}
	stA, stB, addrA, addrB, _, _ := pinnedPair(t)
	conf := func(httpIP, listen, dir string) string {
		return fmt.Sprintf(`global:
  control_socket: %%SOCK%%
frontends:
  - name: web
    bind: ['%s:%d']
    default_backend: app
backends:
  - name: app
    servers:
      - name: web01
        address: 127.0.0.1:1
    retries: 0
pair:
  listen: %s
  state_dir: %s
  interval: 100ms
  timeout: 300ms
tls:
  acme:
    directory: %s
    ca: %s
    email: ops@lbd.test
    certificates: [[www.lbd.test]]
    lock_ttl: 2s
`, httpIP, lab.HTTPPort, listen, dir, lab.DirURL, lab.CAFile)
	}
	start := time.Now()
	a := startDaemon(t, conf("127.0.0.1", addrA, stA))
	b := startDaemon(t, conf("127.0.0.2", addrB, stB))
	_, certsA := ACMEDirs(stA)
	_, certsB := ACMEDirs(stB)
	fa, fb := filepath.Join(certsA, "www.lbd.test.pem"), filepath.Join(certsB, "www.lbd.test.pem")
	deadline := time.Now().Add(40 * time.Second)
	for {
		_, ea := os.Stat(fa)
		_, eb := os.Stat(fb)
		if ea == nil && eb == nil {
			break
		}
		if time.Now().After(deadline) {
			st, _ := (&control.Client{Socket: a.sock}).ACMEStatus(context.Background())
			t.Fatalf("certificate files not on both nodes (a: %v, b: %v); status a: %+v\npebble:\n%s", ea, eb, st, lab.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("both nodes have the certificate %v after start", time.Since(start).Round(time.Millisecond))
	if ga, gb := leafSum(t, fa), leafSum(t, fb); ga != gb {
		t.Fatalf("the nodes' certificates differ: %s vs %s", ga, gb)
	}
	for _, f := range []string{fa, fb} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	time.Sleep(time.Second) // the other node's look at the lock and the store
	if n := lab.Orders(); n != 1 {
		t.Fatalf("pebble saw %d orders, want 1", n)
	}
	for _, td := range []*testDaemon{a, b} {
		st, err := (&control.Client{Socket: td.sock}).ACMEStatus(context.Background())
		if err != nil || len(st.Certificates) != 1 || st.Certificates[0].State != "valid" || st.Certificates[0].NotAfter.IsZero() {
			t.Fatalf("acme status: %+v %v", st, err)
		}
	}
	// Only the challenge path is diverted: other requests reach the
	// frontend's backend (down here: 503), an unknown token is a 404.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	for path, want := range map[string]int{"/": 503, "/.well-known/acme-challenge/nope": 404} {
		resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d%s", lab.HTTPPort, path))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}

	// The link goes down (b stops): a renews alone (no VRRP here: it
	// counts as master); b gets the new certificate when it is back.
	old := leafSum(t, fa)
	b.stop()
	ca := &control.Client{Socket: a.sock, Timeout: time.Minute}
	acmeWaitFor(t, 5*time.Second, "a sees the link down", func() bool {
		st, err := ca.Status(context.Background())
		return err == nil && st.Pair != nil && st.Pair.Link == "down"
	})
	if err := ca.ACMERenew(context.Background(), "www.lbd.test"); err != nil {
		t.Fatal(err)
	}
	renewed := leafSum(t, fa)
	if renewed == old || leafSum(t, fb) != old {
		t.Fatal("renewal with the link down: a's file unchanged or b's changed")
	}
	if st, _ := ca.ACMEStatus(context.Background()); st == nil || !st.PeerBehind {
		t.Fatalf("status does not say the peer is behind: %+v", st)
	}
	back := time.Now()
	startDaemon(t, conf("127.0.0.2", addrB, stB))
	acmeWaitFor(t, 15*time.Second, "b gets the renewed certificate", func() bool {
		b, err := os.ReadFile(fb)
		if err != nil {
			return false
		}
		p, _ := pem.Decode(b)
		return p != nil && fmt.Sprintf("%x", sha256.Sum256(p.Bytes)) == renewed
	})
	t.Logf("b had the renewed certificate %v after it came back", time.Since(back).Round(time.Millisecond))
	if n := lab.Orders(); n != 2 {
		t.Fatalf("pebble saw %d orders, want 2 (first and renewal)", n)
	}
}

func acmeWaitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func leafSum(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := pem.Decode(b)
	if p == nil || !strings.Contains(p.Type, "CERTIFICATE") {
		t.Fatalf("%s: no certificate first", file)
	}
	return fmt.Sprintf("%x", sha256.Sum256(p.Bytes))
}
