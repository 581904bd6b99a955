package daemon

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/pair"
)

// pairSyncConfig has no frontend, so that both in-process daemons can run
// the same shared part on one loopback.
const pairSyncConfig = `global:
  control_socket: %SOCK%
  runtime_api: {level: admin}
sysctl:
  file_max: 200000
backends:
  - name: app
    servers:
      - name: web01
        address: 127.0.0.1:1
pair:
  listen: %LISTEN%
  state_dir: %STATE%
  interval: 100ms
  timeout: 300ms
%SYNC%`

// pairedDaemons starts two in-process daemons paired on loopback.
func pairedDaemons(t *testing.T, syncA string) (a, b *testDaemon, cfgB func() string) {
	t.Helper()
	stA, stB, addrA, addrB, _, _ := pinnedPair(t)
	conf := func(listen, state, sync string) string {
		return strings.NewReplacer("%LISTEN%", listen, "%STATE%", state, "%SYNC%", sync).Replace(pairSyncConfig)
	}
	a = startDaemon(t, conf(addrA, stA, syncA))
	bText := conf(addrB, stB, "")
	b = startDaemon(t, bText)
	waitPair(t, a, b)
	return a, b, func() string { return bText }
}

func waitPair(t *testing.T, a, b *testDaemon) {
	t.Helper()
	if !waitFor(5*time.Second, func() bool {
		sa, sb := a.d.Status(), b.d.Status()
		return sa.Pair != nil && sa.Pair.Link == "up" && sb.Pair != nil && sb.Pair.Link == "up" && sa.Pair.PeerNode != ""
	}) {
		t.Fatalf("pair link not up: %+v", a.d.Status().Pair)
	}
}

func waitFor(d time.Duration, f func() bool) bool {
	for deadline := time.Now().Add(d); ; {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func serverState(td *testDaemon, name string) string {
	for _, be := range td.d.Status().Backends {
		for _, s := range be.Servers {
			if s.Name == name {
				return s.State
			}
		}
	}
	return ""
}

func addServer(t *testing.T, path, name, addr string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), "        address: 127.0.0.1:1\n", "        address: 127.0.0.1:1\n      - name: "+name+"\n        address: "+addr+"\n", 1)
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPairConfigPush: the shared parts are in sync although the node-local
// keys differ; a server added on A and pushed is served by B, B keeps its
// own node-local keys and its previous file; diff shows nothing after the
// push; a push B cannot apply (an unknown key, as from a newer lbd) is
// refused with lbd check's error and changes nothing; a held lock is a
// conflict on either side; a stopped peer fails the push at once.
func TestPairConfigPush(t *testing.T) {
	a, b, _ := pairedDaemons(t, "")
	ca := &control.Client{Socket: a.sock}
	ctx := context.Background()
	if !waitFor(3*time.Second, func() bool { return a.d.Status().Pair.ConfigInSync }) {
		t.Fatalf("files differing in node-local keys only are not in sync: %+v", a.d.Status().Pair)
	}

	addServer(t, a.cfg, "web02", "127.0.0.1:2")
	if r := a.d.Reload(ctx, "test"); !r.OK {
		t.Fatal(r.Error)
	}
	if !waitFor(3*time.Second, func() bool { return !a.d.Status().Pair.ConfigInSync }) {
		t.Fatal("an added server does not show as differing")
	}
	pc, err := ca.PeerConfig(ctx)
	if err != nil || !strings.Contains(pc.LocalShared, "web02") || strings.Contains(pc.Shared, "web02") || strings.Contains(pc.LocalShared, "listen") {
		t.Fatalf("PeerConfig shared parts: %+v %v", pc, err)
	}
	before, _ := os.ReadFile(b.cfg)
	res, err := ca.PushConfig(ctx)
	if err != nil || !res.OK || len(res.Nodes) != 2 || res.Nodes[1].Status != pair.PushApplied || res.Nodes[1].Prev != b.cfg+".prev" {
		t.Fatalf("push: %+v %v", res, err)
	}
	if serverState(b, "web02") == "" {
		t.Fatalf("B does not serve web02 after the push: %+v", b.d.Status().Backends)
	}
	after, _ := os.ReadFile(b.cfg)
	prev, _ := os.ReadFile(b.cfg + ".prev")
	if string(prev) != string(before) || !strings.Contains(string(after), b.sock) || strings.Contains(string(after), a.sock) {
		t.Fatalf("B's file after the push (its socket must stay):\n%s", after)
	}
	if pc, err := ca.PeerConfig(ctx); err != nil || pc.Shared != pc.LocalShared {
		t.Fatalf("shared parts differ after the push: %v\n%s\n---\n%s", err, pc.LocalShared, pc.Shared)
	}
	if !waitFor(3*time.Second, func() bool { return a.d.Status().Pair.ConfigInSync && b.d.Status().Pair.ConfigInSync }) {
		t.Fatal("not in sync after the push")
	}
	if res, err := ca.PushConfig(ctx); err != nil || res.Nodes[1].Status != pair.PushUnchanged {
		t.Fatalf("second push: %+v %v", res, err)
	}

	// A push B cannot apply: refused with the file:line error, B unchanged.
	bad := []byte("backends:\n  - name: app\n    servers:\n      - name: web01\n        address: 127.0.0.1:1\n        from_lbd_9: true\n")
	pr, err := a.d.pair.link.SendPush(ctx, &pair.Push{Node: "a", Version: "9.0.0", Shared: bad})
	if err != nil || pr.Status != pair.PushRefused || !strings.Contains(pr.Error, b.cfg+":") || !strings.Contains(pr.Error, "from_lbd_9") || !strings.Contains(pr.Error, "9.0.0") {
		t.Fatalf("refused push: %+v %v", pr, err)
	}
	if now, _ := os.ReadFile(b.cfg); string(now) != string(after) || serverState(b, "web02") == "" {
		t.Fatal("a refused push changed B")
	}

	// Conflicts: B's lock held (a push in progress there), then A's.
	if _, ok := b.d.lockPush("a test push"); !ok {
		t.Fatal("lock")
	}
	res, err = ca.PushConfig(ctx)
	if err != nil || res.OK || res.Nodes[1].Status != pair.PushConflict || !strings.Contains(res.Nodes[1].Error, "conflict: a test push is in progress") {
		t.Fatalf("push into a held lock: %+v %v", res, err)
	}
	b.d.unlockPush()
	a.d.lockPush("a test push")
	if _, err := ca.PushConfig(ctx); err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("push while this node pushes: %v", err)
	}
	a.d.unlockPush()

	// The peer stopped: the push fails at once, naming the peer.
	b.stop()
	t0 := time.Now()
	_, err = ca.PushConfig(ctx)
	if err == nil || !strings.Contains(err.Error(), a.d.pair.link.PeerAddr()) || time.Since(t0) > 2*time.Second {
		t.Fatalf("push to a stopped peer: %v after %s", err, time.Since(t0))
	}
}

// TestPairPushLockLease: a push lock left by a hung push expires.
func TestPairPushLockLease(t *testing.T) {
	now := time.Unix(1000, 0)
	d := &Daemon{opts: Options{Now: func() time.Time { return now }}}
	if _, ok := d.lockPush("one"); !ok {
		t.Fatal("first lock")
	}
	if h, ok := d.lockPush("two"); ok || h != "one" {
		t.Fatalf("second lock: %q %v", h, ok)
	}
	now = now.Add(pushLease + time.Second)
	if _, ok := d.lockPush("two"); !ok {
		t.Fatal("lease did not expire")
	}
}

// TestPairAutoSync: with pair.sync: auto a reload on A pushes; B's reload
// caused by the push does not push back.
func TestPairAutoSync(t *testing.T) {
	a, b, _ := pairedDaemons(t, "  sync: auto\n")
	addServer(t, a.cfg, "web03", "127.0.0.1:3")
	if r := a.d.Reload(context.Background(), "operator"); !r.OK {
		t.Fatal(r.Error)
	}
	if !waitFor(5*time.Second, func() bool { return serverState(b, "web03") != "" }) {
		t.Fatal("auto sync did not reach B")
	}
	time.Sleep(300 * time.Millisecond)
	if lr := a.d.Status().LastReload; lr == nil || lr.Source != "operator" {
		t.Fatalf("A reloaded again (ping-pong?): %+v", lr)
	}
	if lr := b.d.Status().LastReload; lr == nil || !strings.HasPrefix(lr.Source, pushWho) {
		t.Fatalf("B's reload: %+v", lr)
	}
}

// TestPairServerChanges: drain applies on both nodes and says so; --local
// stays here; a change made while the peer is down reaches it when it
// comes back, and the peer's older state does not undo it.
func TestPairServerChanges(t *testing.T) {
	a, b, cfgB := pairedDaemons(t, "")
	ca := &control.Client{Socket: a.sock}
	ctx := context.Background()
	res, err := ca.ChangeServerState(ctx, "app", "web01", "drain", false)
	if err != nil || len(res.Nodes) != 2 || !res.Nodes[0].Changed || !res.Nodes[1].Changed || res.Nodes[1].Result != "DRAIN" {
		t.Fatalf("drain: %+v %v", res, err)
	}
	if serverState(a, "web01") != "DRAIN" || serverState(b, "web01") != "DRAIN" {
		t.Fatalf("drain on both: A %s B %s", serverState(a, "web01"), serverState(b, "web01"))
	}
	res, err = ca.ChangeServerState(ctx, "app", "web01", "maint", true)
	if err != nil || res.Nodes[1].Changed || serverState(a, "web01") != "MAINT" {
		t.Fatalf("--local: %+v %v", res, err)
	}
	time.Sleep(300 * time.Millisecond) // presences go by: B keeps DRAIN
	if serverState(b, "web01") != "DRAIN" {
		t.Fatalf("--local reached B: %s", serverState(b, "web01"))
	}

	// The HAProxy runtime API's set server takes the same route.
	needTool(t, "socat", "socat")
	socat(t, a.sock, "set server app/web01 weight 5")
	if !waitFor(time.Second, func() bool { return serverWeight(b, "web01") == 5 }) {
		t.Fatalf("runtime API weight did not reach B: %d", serverWeight(b, "web01"))
	}

	// B's link away (B keeps running with DRAIN recorded): the change
	// applies here and says B was not changed; when the link is back B
	// takes it, and B's older DRAIN does not undo it on A.
	b.d.stopPair()
	res, err = ca.ChangeServerState(ctx, "app", "web01", "ready", false)
	if err != nil || res.Nodes[1].Changed || !strings.Contains(res.Nodes[1].Result, "not changed") {
		t.Fatalf("enable with B's link down: %+v %v", res, err)
	}
	b.d.startPair(b.d.Config())
	if !waitFor(3*time.Second, func() bool { s := serverState(b, "web01"); return s == "UP" || s == "DOWN" }) {
		t.Fatalf("B did not take A's newer change: %s", serverState(b, "web01"))
	}
	if s := serverState(a, "web01"); s != "UP" && s != "DOWN" {
		t.Fatalf("B's older change undid A's: %s", s)
	}

	// A node that joins later (a fresh process: servers as configured)
	// gets the current admin states.
	if _, err := ca.ChangeServerWeight(ctx, "app", "web01", 7, false); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.ChangeServerState(ctx, "app", "web01", "drain", false); err != nil {
		t.Fatal(err)
	}
	b.stop()
	b2 := startDaemon(t, cfgB())
	waitPair(t, a, b2)
	if !waitFor(3*time.Second, func() bool { return serverState(b2, "web01") == "DRAIN" && serverWeight(b2, "web01") == 7 }) {
		t.Fatalf("the late joiner did not get the admin state: %s weight %d", serverState(b2, "web01"), serverWeight(b2, "web01"))
	}
}

func serverWeight(td *testDaemon, name string) int {
	for _, be := range td.d.Status().Backends {
		for _, s := range be.Servers {
			if s.Name == name {
				return s.Weight
			}
		}
	}
	return -1
}
