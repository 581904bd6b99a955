package acme

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type testPair struct {
	a, b       *Store
	ab, ba     *fakeLink
	aMaster    atomic.Bool
	bMaster    atomic.Bool
	certEvents atomic.Int64
}

func newPair(t *testing.T, ttl time.Duration) *testPair {
	t.Helper()
	p := &testPair{ab: &fakeLink{}, ba: &fakeLink{}}
	mk := func(node string, link *fakeLink, master *atomic.Bool) *Store {
		dir := t.TempDir()
		s, err := NewStore(StoreOptions{Dir: filepath.Join(dir, "store"), CertDir: filepath.Join(dir, "certs"), Node: node,
			LockTTL: ttl, Peer: link, IsMaster: master.Load, OnCertificate: func(string) { p.certEvents.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	p.a = mk("a", p.ab, &p.aMaster)
	p.b = mk("b", p.ba, &p.bMaster)
	p.ab.peer.Store(p.b)
	p.ba.peer.Store(p.a)
	return p
}

func (p *testPair) setDown(down bool) {
	p.ab.down.Store(down)
	p.ba.down.Store(down)
}

func TestStoreReplicates(t *testing.T) {
	ctx := context.Background()
	p := newPair(t, time.Second)
	if err := p.a.Store(ctx, "acme/x/users/u/u.json", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if b, err := p.b.Load(ctx, "acme/x/users/u/u.json"); err != nil || string(b) != "one" {
		t.Fatalf("peer has %q, %v", b, err)
	}
	fi, err := os.Stat(filepath.Join(p.b.opts.Dir, "acme/x/users/u/u.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi, err)
	}
	keys, err := p.b.List(ctx, "acme", true)
	if err != nil || len(keys) != 4 {
		t.Fatalf("list: %v %v", keys, err)
	}
	if err := p.a.Delete(ctx, "acme/x"); err != nil {
		t.Fatal(err)
	}
	if p.b.Exists(ctx, "acme/x/users/u/u.json") {
		t.Fatal("delete not replicated")
	}
	if _, err := p.a.Load(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing key: %v", err)
	}
	for _, bad := range []string{"../etc/passwd", "/abs", "a/../../b", ""} {
		if err := p.a.Store(ctx, bad, []byte("x")); err == nil {
			t.Errorf("key %q accepted", bad)
		}
	}
}

func TestStoreSyncAfterLinkDown(t *testing.T) {
	ctx := context.Background()
	p := newPair(t, time.Second)
	p.setDown(true)
	p.a.Store(ctx, "k/new", []byte("from a"))
	time.Sleep(20 * time.Millisecond)
	p.b.Store(ctx, "k/both", []byte("old b"))
	time.Sleep(20 * time.Millisecond)
	p.a.Store(ctx, "k/both", []byte("newer a"))
	if !p.a.Dirty() || p.b.Exists(ctx, "k/new") {
		t.Fatal("write reached a down peer")
	}
	p.setDown(false)
	if _, err := p.a.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := p.b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{p.a, p.b} {
		for k, want := range map[string]string{"k/new": "from a", "k/both": "newer a"} {
			if v, err := s.Load(ctx, k); err != nil || string(v) != want {
				t.Errorf("%s %s: %q %v", s.opts.Node, k, v, err)
			}
		}
	}
	if p.a.Dirty() {
		t.Fatal("still dirty after sync")
	}
}

func TestLockOneHolderAtATime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := newPair(t, 500*time.Millisecond)
	var inside, maxInside, total atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		s := p.a
		if i%2 == 1 {
			s = p.b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 3; j++ {
				if err := s.Lock(ctx, "issue_cert_x"); err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				for {
					m := maxInside.Load()
					if n <= m || maxInside.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
				inside.Add(-1)
				total.Add(1)
				if err := s.Unlock(ctx, "issue_cert_x"); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if maxInside.Load() != 1 || total.Load() != 24 {
		t.Fatalf("max holders %d, total %d", maxInside.Load(), total.Load())
	}
}

// TestLockHolderDies: a holder that stops refreshing (killed) loses the
// lease when it expires; the other node, master, then takes it.
func TestLockHolderDies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ttl := 300 * time.Millisecond
	p := newPair(t, ttl)
	if err := p.a.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	// a dies: its keepalive stops, its link is gone.
	p.a.mu.Lock()
	close(p.a.leases["l"].stop)
	p.a.mu.Unlock()
	p.setDown(true)
	p.bMaster.Store(true)
	start := time.Now()
	if err := p.b.Lock(ctx, "l"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < ttl/2 || el > 5*time.Second {
		t.Fatalf("took the lock after %v, lease %v", el, ttl)
	}
	p.b.Unlock(ctx, "l")
}

// TestLockLinkDownBackupWaits: with the link down, the backup does not
// take a lock; the master does.
func TestLockLinkDownBackupWaits(t *testing.T) {
	p := newPair(t, 200*time.Millisecond)
	p.setDown(true)
	p.aMaster.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	if err := p.b.Lock(ctx, "l"); err == nil {
		t.Fatal("backup took a lock with the link down")
	}
	if err := p.a.Lock(context.Background(), "l"); err != nil {
		t.Fatal(err)
	}
	p.a.Unlock(context.Background(), "l")
}

func TestApplyLeaseTieBreak(t *testing.T) {
	p := newPair(t, time.Second)
	p.b.mu.Lock()
	p.b.leases["l"] = &lease{owner: "b", expires: time.Now().Add(time.Second), pending: true}
	p.b.mu.Unlock()
	if ans := p.b.ApplyLease(LeaseRequest{Name: "l", Owner: "a", TTL: time.Second, Op: "acquire"}); !ans.Granted {
		t.Fatal("a sorts first and should win the tie")
	}
	p.a.mu.Lock()
	p.a.leases["l"] = &lease{owner: "a", expires: time.Now().Add(time.Second), pending: true}
	p.a.mu.Unlock()
	if ans := p.a.ApplyLease(LeaseRequest{Name: "l", Owner: "b", TTL: time.Second, Op: "acquire"}); ans.Granted || ans.Holder != "a" {
		t.Fatalf("b should lose the tie: %+v", ans)
	}
}
