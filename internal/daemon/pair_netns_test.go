package daemon

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/lab"
	"github.com/lbd-ha/lbd/internal/pair"
)

const pairVRRPConfig = `global:
  control_socket: %SOCK%
sysctl:
  apply: false
vrrp:
  instances:
    - name: VI_1
      interface: lab0
      virtual_router_id: 62
      priority: %PRIO%
      advert_interval: 100ms
      vips:
        - address: 192.0.2.101/24
frontends:
  - name: web
    bind: ["127.0.0.1:8080"]
    default_backend: app
backends:
  - name: app
    servers:
      - {name: web01, address: "127.0.0.1:8081"}
pair:
  listen: %LISTEN%
  state_dir: %STATE%
  interval: 200ms
  timeout: 300ms
`

func buildLBCTL(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lbctl")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/lbd-ha/lbd/cmd/lbctl")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build lbctl: %v\n%s", err, out)
	}
	return bin
}

// TestNetnsPairLinkAndSplitBrain: two lbd nodes in namespaces, paired over
// the lab segment. `lbctl status` on A shows B's VRRP state. Then B drops
// VRRP (IP protocol 112) on input: B becomes master too while the pair link
// stays up; both report the split brain, B (lower priority) steps down
// (held in FAULT, VIPs released), and once the drop rule is gone B is
// released and stays backup.
func TestNetnsPairLinkAndSplitBrain(t *testing.T) {
	lab.Require(t)
	if _, err := exec.LookPath("nft"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs nft (apt-get install nftables)")
		}
		t.Skip("needs nft: apt-get install nftables (or make test-tools)")
	}
	np := startNetnsPair(t, pairVRRPConfig)
	lbctl, nb, pa, pb, ca, cb, sockA := np.lbctl, np.nb, np.pa, np.pb, np.ca, np.cb, np.sockA
	status := np.status
	ctx := context.Background()
	out, err := exec.Command(lbctl, "--socket", sockA, "status").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "link UP with b ") && !strings.Contains(string(out), "link UP with") {
		t.Fatalf("lbctl status: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "62    VI_1      MASTER     BACKUP") {
		t.Fatalf("lbctl status on A does not show B's VRRP state:\n%s", out)
	}
	t.Logf("lbctl status on A:\n%s", out)

	// Split brain: B hears no adverts, the pair link (TCP) still works.
	if _, err := nb.Run(ctx, "nft", "add", "table", "inet", "lbdpair", ";",
		"add", "chain", "inet", "lbdpair", "in", "{", "type", "filter", "hook", "input", "priority", "0", ";", "}", ";",
		"add", "rule", "inet", "lbdpair", "in", "ip", "protocol", "112", "drop"); err != nil {
		t.Fatal(err)
	}
	dropped := time.Now()
	var sawSplitA, sawSplitB bool
	if !lab.WaitFor(10*time.Second, func() bool {
		a, b := status(ca), status(cb)
		if a == nil || b == nil {
			return false
		}
		sawSplitA = sawSplitA || a.Pair.SplitBrainTotal > 0
		sawSplitB = sawSplitB || b.Pair.SplitBrainTotal > 0
		return sawSplitA && sawSplitB && b.VRRP[0].State == "FAULT" && !b.VRRP[0].VIPsHeld && a.VRRP[0].State == "MASTER"
	}) {
		t.Fatalf("split brain not detected and ended: A %+v\nB %+v\n%s\n%s", status(ca).Pair, status(cb), pa.Output(), pb.Output())
	}
	t.Logf("split brain detected and B stepped down %s after dropping protocol 112", time.Since(dropped).Round(time.Millisecond))
	if !strings.Contains(pb.Output(), "SPLIT BRAIN") || !strings.Contains(pa.Output(), "SPLIT BRAIN") {
		t.Errorf("both nodes must log the split brain")
	}

	// Mend the advert path: B resumes and stays backup.
	if _, err := nb.Run(ctx, "nft", "delete", "table", "inet", "lbdpair"); err != nil {
		t.Fatal(err)
	}
	if !lab.WaitFor(10*time.Second, func() bool {
		a, b := status(ca), status(cb)
		return a != nil && b != nil && b.VRRP[0].State == "BACKUP" && a.VRRP[0].State == "MASTER" && len(a.Pair.SplitBrain) == 0
	}) {
		t.Fatalf("B did not resume: %+v\n%s", status(cb), pb.Output())
	}
	time.Sleep(time.Second)
	if b := status(cb); b == nil || b.VRRP[0].State != "BACKUP" {
		t.Fatalf("B after resume: %+v", b)
	}

	// The pair link black-holed (B drops TCP 7946 both ways): VRRP keeps
	// its single master without a transition, and status answers at once
	// with the peer unreachable.
	_, transA := a0(status(ca))
	_, transB := a0(status(cb))
	if _, err := nb.Run(ctx, "nft", "add", "table", "inet", "lbdpair", ";",
		"add", "chain", "inet", "lbdpair", "in", "{", "type", "filter", "hook", "input", "priority", "0", ";", "}", ";",
		"add", "rule", "inet", "lbdpair", "in", "tcp", "dport", "7946", "drop", ";",
		"add", "rule", "inet", "lbdpair", "in", "tcp", "sport", "7946", "drop"); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	var slowest time.Duration
	var downAfter time.Duration
	for time.Since(cut) < 3*time.Second {
		t0 := time.Now()
		st := status(ca)
		if d := time.Since(t0); d > slowest {
			slowest = d
		}
		if st != nil && st.Pair.Link == "down" && downAfter == 0 {
			downAfter = time.Since(cut)
		}
		time.Sleep(50 * time.Millisecond)
	}
	out, _ = exec.Command(lbctl, "--socket", sockA, "status").CombinedOutput()
	if !strings.Contains(string(out), "unreachable since") {
		t.Errorf("lbctl status with the link cut:\n%s", out)
	}
	sa, ta := a0(status(ca))
	sb, tb := a0(status(cb))
	if sa != "MASTER" || sb != "BACKUP" || ta != transA || tb != transB {
		t.Errorf("VRRP disturbed by the pair link going down: A %s (%d->%d), B %s (%d->%d)", sa, transA, ta, sb, transB, tb)
	}
	if downAfter == 0 || slowest > 200*time.Millisecond {
		t.Errorf("link cut: down noticed after %s, slowest status %s", downAfter, slowest)
	}
	t.Logf("pair link cut: A said unreachable after %s; slowest status call %s; no VRRP transition", downAfter.Round(time.Millisecond), slowest.Round(time.Millisecond))
}

// netnsPair is two lbd nodes a (priority 150) and b (100) in namespaces,
// paired over the lab segment and settled (a MASTER, b BACKUP, link up).
type netnsPair struct {
	bin, lbctl, dir string
	na, nb          *lab.Node
	pa, pb          *lab.Process
	ca, cb          *control.Client
	sockA, sockB    string
	pathA, pathB    string
}

func startNetnsPair(t *testing.T, tmpl string) *netnsPair {
	t.Helper()
	np := &netnsPair{bin: buildLBD(t), lbctl: buildLBCTL(t), dir: t.TempDir()}
	l := lab.New(t, lab.Config{Nodes: []string{"a", "b"}})
	dir := np.dir
	np.na, np.nb = l.Node("a"), l.Node("b")
	addr := func(n *lab.Node) string { return n.Addr.Addr().String() + ":7946" }
	ids := map[string]*pair.Identity{}
	for _, n := range []*lab.Node{np.na, np.nb} {
		id, _, err := pair.LoadOrCreateIdentity(pair.Dir(filepath.Join(dir, n.Name)), n.Name)
		if err != nil {
			t.Fatal(err)
		}
		ids[n.Name] = id
	}
	for _, p := range [][2]*lab.Node{{np.na, np.nb}, {np.nb, np.na}} {
		if err := pair.SavePin(pair.Dir(filepath.Join(dir, p[0].Name)), pair.Pin{Fingerprint: ids[p[1].Name].Fingerprint, Address: addr(p[1])}); err != nil {
			t.Fatal(err)
		}
	}
	start := func(n *lab.Node, prio int) (*lab.Process, *control.Client, string, string) {
		sock := filepath.Join(dir, n.Name+".sock")
		cfg := strings.NewReplacer("%SOCK%", sock, "%PRIO%", fmt.Sprint(prio), "%LISTEN%", addr(n), "%STATE%", filepath.Join(dir, n.Name)).Replace(tmpl)
		path := filepath.Join(dir, n.Name+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return n.Start(t, np.bin, "run", "-c", path), &control.Client{Socket: sock, Timeout: 5 * time.Second}, sock, path
	}
	np.pa, np.ca, np.sockA, np.pathA = start(np.na, 150)
	np.pb, np.cb, np.sockB, np.pathB = start(np.nb, 100)
	if !lab.WaitFor(10*time.Second, func() bool {
		a, b := np.status(np.ca), np.status(np.cb)
		return a != nil && b != nil && a.VRRP[0].State == "MASTER" && b.VRRP[0].State == "BACKUP" &&
			a.Pair.Link == "up" && b.Pair.Link == "up" && len(a.Pair.PeerVRRP) == 1 && a.Pair.PeerVRRP[0].State == "BACKUP" &&
			len(b.Pair.PeerVRRP) == 1 && b.Pair.PeerVRRP[0].State == "MASTER"
	}) {
		t.Fatalf("pair did not settle: A %+v\nB %+v\n%s\n%s", np.status(np.ca), np.status(np.cb), np.pa.Output(), np.pb.Output())
	}
	return np
}

// status is c's status with one VRRP instance and a pair section, or nil.
func (np *netnsPair) status(c *control.Client) *control.Status {
	st, err := c.Status(context.Background())
	if err != nil || len(st.VRRP) < 1 || st.Pair == nil {
		return nil
	}
	return st
}

func a0(st *control.Status) (string, uint64) {
	if st == nil || len(st.VRRP) == 0 {
		return "", 0
	}
	return st.VRRP[0].State, st.VRRP[0].Transitions
}
