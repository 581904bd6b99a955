package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/lab"
)

const upgradeVRRPConfig = `global:
  control_socket: %SOCK%
sysctl:
  apply: false
vrrp:
  instances:
    - name: VI_1
      interface: lab0
      virtual_router_id: 61
      priority: %PRIO%
      advert_interval: 100ms
      vips:
        - address: %VIP%/24
frontends:
  - name: web
    bind: ["127.0.0.1:8080"]
    default_backend: app
backends:
  - name: app
    servers:
      - {name: web01, address: "127.0.0.1:8081"}
`

// TestNetnsBinaryUpgradeKeepsVIP: two lbd nodes in network namespaces, A
// master (150) and B backup (100) at 100 ms adverts. Upgrading A's binary
// moves the instance to the new process without the VIP ever leaving A's
// interface (sampled every 2 ms) and without B leaving BACKUP (its
// Master_Down_Interval is ~330 ms).
func TestNetnsBinaryUpgradeKeepsVIP(t *testing.T) {
	lab.Require(t)
	bin := buildLBD(t)
	l := lab.New(t, lab.Config{Nodes: []string{"a", "b"}})
	vip := netip.MustParseAddr("192.0.2.100")
	dir := t.TempDir()
	start := func(n *lab.Node, prio int) (*lab.Process, *control.Client) {
		sock := filepath.Join(dir, n.Name+".sock")
		cfg := strings.NewReplacer("%SOCK%", sock, "%PRIO%", fmt.Sprint(prio), "%VIP%", vip.String()).Replace(upgradeVRRPConfig)
		path := filepath.Join(dir, n.Name+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return n.Start(t, bin, "run", "-c", path), &control.Client{Socket: sock, Timeout: time.Minute}
	}
	ctx := context.Background()
	vrrpState := func(c *control.Client) (string, uint64) {
		st, err := c.Status(ctx)
		if err != nil || len(st.VRRP) != 1 {
			return "", 0
		}
		return st.VRRP[0].State, st.VRRP[0].Transitions
	}
	a, ca := start(l.Node("a"), 150)
	_, cb := start(l.Node("b"), 100)
	if !lab.WaitFor(10*time.Second, func() bool {
		sa, _ := vrrpState(ca)
		sb, _ := vrrpState(cb)
		return sa == "MASTER" && sb == "BACKUP"
	}) {
		t.Fatalf("election did not settle:\n%s", a.Output())
	}
	_, bTrans := vrrpState(cb)

	// Watch A's VIP and B's state through the upgrade.
	var vipGone, samples, bNotBackup atomic.Int64
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for i := 0; i < 5000; i++ { // bounded: at most ~10 s
			select {
			case <-stop:
				return
			default:
			}
			if ok, err := l.Node("a").HasAddr("lab0", vip); err == nil {
				samples.Add(1)
				if !ok {
					vipGone.Add(1)
				}
			}
			if i%10 == 0 {
				if s, _ := vrrpState(cb); s != "" && s != "BACKUP" {
					bNotBackup.Add(1)
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	time.Sleep(200 * time.Millisecond)
	res, err := ca.Upgrade(ctx)
	if err != nil || !res.OK {
		close(stop)
		<-watched
		t.Fatalf("upgrade: %+v %v\n%s", res, err, a.Output())
	}
	time.Sleep(time.Second) // three Master_Down_Intervals of B
	close(stop)
	<-watched

	if vipGone.Load() != 0 {
		t.Errorf("the VIP was missing from A in %d of %d samples during the upgrade", vipGone.Load(), samples.Load())
	}
	if samples.Load() < 100 {
		t.Errorf("only %d VIP samples", samples.Load())
	}
	sb, bTrans2 := vrrpState(cb)
	if bNotBackup.Load() != 0 || sb != "BACKUP" || bTrans2 != bTrans {
		t.Errorf("B left BACKUP during A's upgrade: state %s, transitions %d -> %d", sb, bTrans, bTrans2)
	}
	st, err := ca.Status(ctx)
	if err != nil || st.PID != res.NewPID || len(st.VRRP) != 1 || st.VRRP[0].State != "MASTER" || !st.VRRP[0].VIPsHeld {
		t.Fatalf("A after the upgrade: %+v %v", st, err)
	}
	if err := syscall.Kill(res.OldPID, 0); err != syscall.ESRCH {
		t.Errorf("old process %d still there after draining (%v)", res.OldPID, err)
	}
	if out := a.Output(); !strings.Contains(out, "resuming vrrp instance") || strings.Contains(out, "stale VIP") {
		t.Errorf("new process did not resume the instance:\n%s", out)
	}
	t.Logf("VIP present in all %d samples; B stayed BACKUP; new pid %d", samples.Load(), res.NewPID)
}
