package acme

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/acme/acmetest"
)

// serveChallenges answers HTTP-01 on 127.0.0.1:httpPort as lbd's frontends
// do, from every store given; an answer that a store lacks or that differs
// between them is counted in missing (the token must be on both nodes
// before the CA validates).
func serveChallenges(t *testing.T, lab *acmetest.Pebble, missing *atomic.Int64, stores ...*Store) {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", lab.HTTPPort))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.URL.Path, ChallengePath)
		if !ok {
			http.NotFound(w, r)
			return
		}
		var answers []string
		for _, s := range stores {
			if ka, ok := s.HTTPChallenge(r.Host, token); ok {
				answers = append(answers, ka)
			}
		}
		if len(answers) == 0 {
			http.NotFound(w, r)
			return
		}
		if len(answers) != len(stores) || answers[0] != answers[len(answers)-1] {
			missing.Add(1)
		}
		w.Write([]byte(answers[0]))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

func manager(t *testing.T, lab *acmetest.Pebble, s *Store, names ...string) *Manager {
	t.Helper()
	m, err := New(Options{Store: s, Directory: lab.DirURL, Email: "ops@lbd.test", Roots: lab.Roots,
		Certificates: [][]string{names}, HTTPPort: lab.HTTPPort})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	return m
}

func waitFile(t *testing.T, file string, d time.Duration, lab *acmetest.Pebble) []byte {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if b, err := os.ReadFile(file); err == nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written in %v; pebble log:\n%s", file, d, lab.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func leafFingerprint(t *testing.T, file string) string {
	t.Helper()
	leaf := readLeaf(file)
	if leaf == nil {
		t.Fatalf("%s: no certificate", file)
	}
	return fmt.Sprintf("%x", sha256.Sum256(leaf.Raw))
}

// TestPebblePairIssuesOnce: both nodes manage the same name; the CA sees
// one order, both nodes end with the same certificate file, and the
// HTTP-01 token was on both nodes when the CA asked.
func TestPebblePairIssuesOnce(t *testing.T) {
	lab := acmetest.Start(t)
	p := newPair(t, 2*time.Second)
	var missing atomic.Int64
	serveChallenges(t, lab, &missing, p.a, p.b)
	start := time.Now()
	ma, mb := manager(t, lab, p.a, "www.lbd.test"), manager(t, lab, p.b, "www.lbd.test")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := ma.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := mb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fa, fb := filepath.Join(p.a.opts.CertDir, "www.lbd.test.pem"), filepath.Join(p.b.opts.CertDir, "www.lbd.test.pem")
	waitFile(t, fa, 30*time.Second, lab)
	waitFile(t, fb, 5*time.Second, lab)
	t.Logf("both nodes have the certificate after %v", time.Since(start).Round(time.Millisecond))
	if a, b := leafFingerprint(t, fa), leafFingerprint(t, fb); a != b {
		t.Fatalf("nodes differ: %s vs %s", a, b)
	}
	for _, f := range []string{fa, fb} {
		if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, fi.Mode())
		}
		if _, err := tls.LoadX509KeyPair(f, f); err != nil {
			t.Errorf("%s is not chain+key: %v", f, err)
		}
	}
	time.Sleep(500 * time.Millisecond) // the other node's turn with the lock
	if n := lab.Orders(); n != 1 {
		t.Fatalf("pebble saw %d orders, want 1", n)
	}
	if missing.Load() != 0 {
		t.Fatalf("%d challenge requests found the token on one node only", missing.Load())
	}
	st := mb.Status()
	if len(st) != 1 || st[0].State != "valid" || st[0].NotAfter.IsZero() {
		t.Fatalf("status: %+v", st)
	}
}

// TestPebbleOrderingNodeDies: node a holds the order lock and dies (no
// refresh, link gone); b, now master, takes the lock when the lease
// expires and completes the order; a gets the certificate when the link
// returns (Sync).
func TestPebbleOrderingNodeDies(t *testing.T) {
	lab := acmetest.Start(t)
	ttl := 2 * time.Second
	p := newPair(t, ttl)
	var missing atomic.Int64
	serveChallenges(t, lab, &missing, p.b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := p.a.Lock(ctx, "issue_cert_dies.lbd.test"); err != nil {
		t.Fatal(err)
	}
	p.a.mu.Lock()
	close(p.a.leases["issue_cert_dies.lbd.test"].stop) // a is killed
	p.a.mu.Unlock()
	p.setDown(true)
	p.bMaster.Store(true)
	start := time.Now()
	mb := manager(t, lab, p.b, "dies.lbd.test")
	if err := mb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fb := filepath.Join(p.b.opts.CertDir, "dies.lbd.test.pem")
	waitFile(t, fb, 30*time.Second, lab)
	took := time.Since(start)
	t.Logf("b completed the order %v after a died (lease %v)", took.Round(time.Millisecond), ttl)
	if took < ttl/2 {
		t.Fatalf("b did not wait for a's lease: %v", took)
	}
	if n := lab.Orders(); n != 1 {
		t.Fatalf("pebble saw %d orders, want 1", n)
	}
	p.setDown(false)
	if _, err := p.b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	fa := filepath.Join(p.a.opts.CertDir, "dies.lbd.test.pem")
	if _, err := os.Stat(fa); err != nil {
		t.Fatalf("a has no certificate after the link returned: %v", err)
	}
	if leafFingerprint(t, fa) != leafFingerprint(t, fb) {
		t.Fatal("a and b differ after sync")
	}
}

// TestPebbleRenewAndCAFailure: a forced renewal on one node puts the new
// certificate on both; with the CA gone, a renewal fails, status says
// failing since when and why, and the current certificate stays.
func TestPebbleRenewAndCAFailure(t *testing.T) {
	lab := acmetest.Start(t)
	p := newPair(t, 2*time.Second)
	var missing atomic.Int64
	serveChallenges(t, lab, &missing, p.a, p.b)
	ma, mb := manager(t, lab, p.a, "renew.lbd.test"), manager(t, lab, p.b, "renew.lbd.test")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := ma.Renew(ctx, "renew.lbd.test"); err != nil { // no certificate yet: an order
		t.Fatal(err)
	}
	fa, fb := filepath.Join(p.a.opts.CertDir, "renew.lbd.test.pem"), filepath.Join(p.b.opts.CertDir, "renew.lbd.test.pem")
	first := leafFingerprint(t, fb)
	events := p.certEvents.Load()
	t0 := time.Now()
	if err := mb.Renew(ctx, "renew.lbd.test"); err != nil {
		t.Fatal(err)
	}
	t.Logf("forced renewal took %v", time.Since(t0).Round(time.Millisecond))
	second := leafFingerprint(t, fa)
	if second == first || leafFingerprint(t, fb) != second {
		t.Fatalf("renewal did not reach both nodes: first %s, a %s, b %s", first, second, leafFingerprint(t, fb))
	}
	if p.certEvents.Load() < events+2 {
		t.Fatalf("reload callback not called on both nodes: %d -> %d", events, p.certEvents.Load())
	}
	if n := lab.Orders(); n != 2 {
		t.Fatalf("pebble saw %d orders, want 2", n)
	}

	lab.StopCA()
	t0 = time.Now()
	if err := ma.Renew(ctx, "renew.lbd.test"); err == nil {
		t.Fatal("renewal succeeded with the CA gone")
	}
	t.Logf("renewal with the CA gone failed after %v", time.Since(t0).Round(time.Millisecond))
	st := ma.Status()
	if len(st) != 1 || st[0].State != "failing" || st[0].FailingSince.IsZero() || st[0].LastError == "" {
		t.Fatalf("status: %+v", st)
	}
	if leafFingerprint(t, fa) != second || leafFingerprint(t, fb) != second {
		t.Fatal("a failed renewal changed the certificate files")
	}
	if st[0].Fingerprint == "" || st[0].NotAfter.IsZero() {
		t.Fatalf("status lost the serving certificate: %+v", st[0])
	}
}
