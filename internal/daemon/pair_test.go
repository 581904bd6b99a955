package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/pair"
)

// TestPairTwoDaemons runs two daemons in this process whose pair links pin
// each other on loopback: each one's status shows the other, the config
// files travel for `lbctl config diff`, and with the peer stopped status
// says so quickly.
func TestPairTwoDaemons(t *testing.T) {
	stA, stB, addrA, addrB, idA, idB := pinnedPair(t)
	withPair := func(listen, dir string) string {
		return goodConfig + "pair:\n  listen: " + listen + "\n  state_dir: " + dir + "\n  interval: 100ms\n  timeout: 300ms\n"
	}
	a := startDaemon(t, withPair(addrA, stA))
	b := startDaemon(t, withPair(addrB, stB)+"# node b\n")
	ca, cb := &control.Client{Socket: a.sock}, &control.Client{Socket: b.sock}
	ctx := context.Background()
	var st *control.Status
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err = ca.Status(ctx)
		if err == nil && st.Pair != nil && st.Pair.Link == "up" && len(st.Pair.PeerServers) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pair link not up: %+v %v", st.Pair, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p := st.Pair
	if p.PeerFingerprint != idB.Fingerprint || p.Fingerprint != idA.Fingerprint || p.PeerServers[0].Server != "web01" {
		t.Fatalf("pair status: %+v", p)
	}
	if p.ConfigInSync || p.DiffersSince.IsZero() || p.ConfigHash == "" || p.PeerConfigHash == "" {
		t.Fatalf("the two files differ (socket paths, # node b): %+v", p)
	}
	pc, err := ca.PeerConfig(ctx)
	if err != nil || !strings.Contains(pc.Content, "# node b") || strings.Contains(pc.Local, "# node b") || pc.File != b.cfg {
		t.Fatalf("PeerConfig: %+v %v", pc, err)
	}
	if _, err := cb.Status(ctx); err != nil {
		t.Fatal(err)
	}

	b.stop()
	deadline = time.Now().Add(3 * time.Second)
	for {
		t0 := time.Now()
		st, err = ca.Status(ctx)
		if d := time.Since(t0); d > 500*time.Millisecond {
			t.Fatalf("status took %s with the peer down", d)
		}
		if err == nil && st.Pair.Link == "down" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer down not noticed: %+v", st.Pair)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if st.Pair.UnreachableSince.IsZero() || len(st.Pair.PeerServers) != 1 {
		t.Fatalf("down status keeps the last known data: %+v", st.Pair)
	}
	t0 := time.Now()
	if _, err := ca.PeerConfig(ctx); err == nil || time.Since(t0) > 3*time.Second {
		t.Fatalf("PeerConfig with the peer down: %v after %s", err, time.Since(t0))
	}
	// Identity files: key 0600.
	if fi, err := os.Stat(filepath.Join(pair.Dir(stA), "node.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
}

// pinnedPair makes two nodes' state directories whose pair identities pin
// each other, with a free loopback address for each node's pair link.
func pinnedPair(t *testing.T) (stA, stB, addrA, addrB string, idA, idB *pair.Identity) {
	t.Helper()
	stA, stB = t.TempDir(), t.TempDir()
	var err error
	if idA, _, err = pair.LoadOrCreateIdentity(pair.Dir(stA), "a"); err != nil {
		t.Fatal(err)
	}
	if idB, _, err = pair.LoadOrCreateIdentity(pair.Dir(stB), "b"); err != nil {
		t.Fatal(err)
	}
	addrA, addrB = freeAddr(t), freeAddr(t)
	if err := pair.SavePin(pair.Dir(stA), pair.Pin{Fingerprint: idB.Fingerprint, Address: addrB}); err != nil {
		t.Fatal(err)
	}
	if err := pair.SavePin(pair.Dir(stB), pair.Pin{Fingerprint: idA.Fingerprint, Address: addrA}); err != nil {
		t.Fatal(err)
	}
	return stA, stB, addrA, addrB, idA, idB
}
