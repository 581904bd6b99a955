package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/lab"
)

// serveIn serves "NAME\n" over HTTP on addr inside n's namespace until the
// test ends.
func serveIn(t *testing.T, n *lab.Node, addr, name string) {
	t.Helper()
	var ln net.Listener
	if err := n.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, name) }),
		ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// lbctlIn runs lbctl against a node's socket; it returns the output and
// the exit status.
func lbctlIn(t *testing.T, bin, sock string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"--socket", sock}, args...)...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatalf("lbctl %v: %v", args, err)
	}
	return string(out), 0
}

// editFile applies old -> new replacements to a config file.
func editFile(t *testing.T, path string, oldNew ...string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("%s has no %q:\n%s", path, oldNew[i], s)
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestNetnsPairSync: the pair as one appliance, with two lbd processes in
// namespaces driven by lbctl. A server added on A and pushed is served by
// B; diff shows nothing then; drain applies on both; a push B cannot apply
// is refused with B's lbd check error while B serves on; pair.sync: auto
// pushes after a reload. Then the pair link (TCP 7946 only) gets 30% loss
// and 200 ms delay both ways for 10 s: VRRP at 100 ms adverts keeps its
// single master with no transition, and a drain still reaches B. Last, B is
// killed in the middle of a push: the push fails cleanly and B's file is
// whole (old or new).
func TestNetnsPairSync(t *testing.T) {
	lab.Require(t)
	if _, err := exec.LookPath("tc"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs tc (apt-get install iproute2)")
		}
		t.Skip("needs tc: apt-get install iproute2 (or make test-tools)")
	}
	needTool(t, "curl", "curl")
	// pair.timeout 2s: a 400 ms round trip plus retransmits fits.
	np := startNetnsPair(t, strings.Replace(pairVRRPConfig, "timeout: 300ms", "timeout: 2s", 1))
	ctx := context.Background()
	for _, n := range []*lab.Node{np.na, np.nb} {
		serveIn(t, n, "127.0.0.1:8081", "web01")
		serveIn(t, n, "127.0.0.1:8082", "web02")
		serveIn(t, n, "127.0.0.1:8083", "web03")
	}
	through := func(n *lab.Node, tries int) string {
		var all []string
		for i := 0; i < tries; i++ {
			out, _ := n.Run(ctx, "curl", "-sS", "--max-time", "3", "http://127.0.0.1:8080/")
			all = append(all, strings.TrimSpace(out))
		}
		return strings.Join(all, " ")
	}
	if got := through(np.nb, 1); got != "web01" {
		t.Fatalf("B before the push: %q", got)
	}
	if out, _ := lbctlIn(t, np.lbctl, np.sockA, "status"); !strings.Contains(out, "in sync") {
		t.Fatalf("files differing only in node-local keys (priority, pair.listen) are not in sync:\n%s", out)
	}

	// Add a server on A, reload, push: B serves it.
	editFile(t, np.pathA, `      - {name: web01, address: "127.0.0.1:8081"}`,
		`      - {name: web01, address: "127.0.0.1:8081"}`+"\n"+`      - {name: web02, address: "127.0.0.1:8082"}`)
	if out, code := lbctlIn(t, np.lbctl, np.sockA, "reload"); code != 0 {
		t.Fatalf("reload A: %s", out)
	}
	if _, code := lbctlIn(t, np.lbctl, np.sockA, "config", "diff"); code != 1 {
		t.Fatalf("diff before the push: exit %d", code)
	}
	t0 := time.Now()
	out, code := lbctlIn(t, np.lbctl, np.sockA, "config", "push")
	if code != 0 || !strings.Contains(out, ": applied") || !strings.Contains(out, np.pathB+".prev") {
		t.Fatalf("push: exit %d\n%s", code, out)
	}
	t.Logf("lbctl config push (%s):\n%s", time.Since(t0).Round(time.Millisecond), out)
	if got := through(np.nb, 4); !strings.Contains(got, "web02") {
		t.Fatalf("B does not serve the pushed server: %q", got)
	}
	if out, code := lbctlIn(t, np.lbctl, np.sockA, "config", "diff"); code != 0 {
		t.Fatalf("diff after the push: exit %d\n%s", code, out)
	}
	if !lab.WaitFor(3*time.Second, func() bool { st := np.status(np.cb); return st != nil && st.Pair.ConfigInSync }) {
		t.Fatal("B does not show the config in sync after the push")
	}

	// Drain on both nodes from A.
	out, code = lbctlIn(t, np.lbctl, np.sockA, "server", "drain", "app/web01")
	if code != 0 || !strings.Contains(out, "this node ") || !strings.Contains(out, "peer ") || strings.Count(out, "app/web01 DRAIN") != 2 {
		t.Fatalf("drain: exit %d\n%s", code, out)
	}
	if s := stateOf(np.status(np.cb), "web01"); s != "DRAIN" {
		t.Fatalf("B's web01 after drain: %s", s)
	}

	// A push B cannot apply: a second VRRP instance has no interface on B
	// (a node-local key). Refused with B's error, B unchanged and serving.
	beforeB, _ := os.ReadFile(np.pathB)
	editFile(t, np.pathA, "frontends:", `    - name: VI_2
      interface: lab0
      virtual_router_id: 63
      priority: 150
      advert_interval: 100ms
      vips:
        - address: 192.0.2.102/24
frontends:`)
	out, code = lbctlIn(t, np.lbctl, np.sockA, "config", "push")
	if code != 1 || !strings.Contains(out, ": refused") || !strings.Contains(out, np.pathB+":") || !strings.Contains(out, "interface") {
		t.Fatalf("refused push: exit %d\n%s", code, out)
	}
	t.Logf("refused push:\n%s", out)
	if now, _ := os.ReadFile(np.pathB); string(now) != string(beforeB) {
		t.Fatal("a refused push changed B's file")
	}
	if got := through(np.nb, 2); !strings.Contains(got, "web02") {
		t.Fatalf("B after a refused push: %q", got)
	}

	// pair.sync: auto (and drop VI_2 again): a reload on A pushes.
	editFile(t, np.pathA, `    - name: VI_2
      interface: lab0
      virtual_router_id: 63
      priority: 150
      advert_interval: 100ms
      vips:
        - address: 192.0.2.102/24
`, "", `      - {name: web02, address: "127.0.0.1:8082"}`, `      - {name: web02, address: "127.0.0.1:8082"}`+"\n"+`      - {name: web03, address: "127.0.0.1:8083"}`,
		"  timeout: 2s\n", "  timeout: 2s\n  sync: auto\n")
	if out, code := lbctlIn(t, np.lbctl, np.sockA, "reload"); code != 0 {
		t.Fatalf("reload A: %s", out)
	}
	if !lab.WaitFor(5*time.Second, func() bool { return stateOf(np.status(np.cb), "web03") != "" }) {
		t.Fatalf("auto sync did not reach B:\n%s", np.pa.Output())
	}

	// The pair link degraded: 30% loss, 200 ms delay, on TCP 7946 only
	// (VRRP adverts are not delayed: this checks that VRRP never waits for
	// the link).
	how := ""
	for _, n := range []*lab.Node{np.na, np.nb} {
		how = degradePairLink(t, n)
	}
	_, transA := a0(np.status(np.ca))
	_, transB := a0(np.status(np.cb))
	var upSamples, samples int
	var slowest time.Duration
	var drainTook time.Duration
	for t0 := time.Now(); time.Since(t0) < 10*time.Second; time.Sleep(100 * time.Millisecond) {
		s0 := time.Now()
		a, b := np.status(np.ca), np.status(np.cb)
		if d := time.Since(s0); d > slowest {
			slowest = d
		}
		if a == nil || b == nil {
			t.Fatal("status failed under the degraded link")
		}
		if a.VRRP[0].State != "MASTER" || b.VRRP[0].State != "BACKUP" {
			t.Fatalf("VRRP disturbed by the degraded pair link: A %s B %s", a.VRRP[0].State, b.VRRP[0].State)
		}
		samples++
		if a.Pair.Link == "up" {
			upSamples++
		}
		if drainTook == 0 && time.Since(t0) > 2*time.Second {
			d0 := time.Now()
			out, code := lbctlIn(t, np.lbctl, np.sockA, "server", "enable", "app/web01")
			drainTook = time.Since(d0)
			t.Logf("enable over the degraded link (%s):\n%s", drainTook.Round(time.Millisecond), out)
			if code != 0 {
				t.Fatalf("enable: exit %d", code)
			}
		}
	}
	_, ta := a0(np.status(np.ca))
	_, tb := a0(np.status(np.cb))
	if ta != transA || tb != transB {
		t.Fatalf("VRRP transitions under the degraded pair link: A %d->%d B %d->%d", transA, ta, transB, tb)
	}
	if !lab.WaitFor(5*time.Second, func() bool { s := stateOf(np.status(np.cb), "web01"); return s == "UP" || s == "DOWN" }) {
		t.Fatalf("the enable did not reach B through the degraded link: %s", stateOf(np.status(np.cb), "web01"))
	}
	t.Logf("degraded pair link (%s) for 10s: single master, no VRRP transition; link up in %d/%d samples; slowest status %s",
		how, upSamples, samples, slowest.Round(time.Millisecond))

	// Back to a clean link for the rest.
	for _, n := range []*lab.Node{np.na, np.nb} {
		n.Run(ctx, "tc", "qdisc", "del", "dev", n.IfName, "root")
		n.Run(ctx, "nft", "delete", "table", "inet", "lbdlossy")
	}

	// B killed in the middle of a push: B is frozen (SIGSTOP) so that the
	// push is surely under way (sent, no answer yet), then killed. The push
	// fails at once, naming B; B's file is whole (its writes are atomic
	// renames; here it never got to write: the old file).
	oldB, _ := os.ReadFile(np.pathB)
	editFile(t, np.pathA, `      - {name: web03, address: "127.0.0.1:8083"}`+"\n", "")
	if err := np.pb.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var pushOut string
	var pushCode int
	go func() {
		defer close(done)
		pushOut, pushCode = lbctlIn(t, np.lbctl, np.sockA, "config", "push")
	}()
	time.Sleep(500 * time.Millisecond)
	killed := time.Now()
	np.pb.Signal(syscall.SIGKILL)
	<-done
	if pushCode != 2 || !strings.Contains(pushOut, "7946") || !strings.Contains(pushOut, "config is unchanged") {
		t.Fatalf("push with B killed: exit %d\n%s", pushCode, pushOut)
	}
	t.Logf("push with B killed mid-push: failed %s after the kill, exit %d\n%s", time.Since(killed).Round(time.Millisecond), pushCode, pushOut)
	newB, err := os.ReadFile(np.pathB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(np.pathB); err != nil || string(newB) != string(oldB) {
		t.Fatalf("B's file after the kill (%v):\n%s", err, newB)
	}
}

// stateOf is a server's state in st ("" unknown or st nil).
func stateOf(st *control.Status, name string) string {
	if st == nil {
		return ""
	}
	for _, be := range st.Backends {
		for _, s := range be.Servers {
			if s.Name == name {
				return s.State
			}
		}
	}
	return ""
}

// degradePairLink gives the pair link's packets (TCP port 7946, both ways)
// leaving n 30% loss and 200 ms delay with tc netem. On a kernel without
// sch_netem (or sch_prio) it falls back to 30% loss with nft's numgen and
// says so: the delay is then not emulated.
func degradePairLink(t *testing.T, n *lab.Node) string {
	t.Helper()
	ctx := context.Background()
	tc := [][]string{
		{"qdisc", "add", "dev", n.IfName, "root", "handle", "1:", "prio", "bands", "4", "priomap", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"},
		{"qdisc", "add", "dev", n.IfName, "parent", "1:4", "handle", "40:", "netem", "loss", "30%", "delay", "200ms"},
		{"filter", "add", "dev", n.IfName, "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "dport", "7946", "0xffff", "flowid", "1:4"},
		{"filter", "add", "dev", n.IfName, "parent", "1:", "protocol", "ip", "prio", "2", "u32", "match", "ip", "sport", "7946", "0xffff", "flowid", "1:4"},
	}
	var failed string
	for _, args := range tc {
		if out, err := n.Run(ctx, "tc", args...); err != nil {
			failed = fmt.Sprintf("tc %s: %v %s", strings.Join(args[:2], " "), err, out)
			break
		}
	}
	if failed == "" {
		return "tc netem: 30% loss, 200 ms delay"
	}
	if !strings.Contains(failed, "unknown") {
		t.Fatal(failed)
	}
	n.Run(ctx, "tc", "qdisc", "del", "dev", n.IfName, "root")
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("this kernel has no sch_netem and nft is missing: apt-get install nftables")
	}
	if out, err := n.Run(ctx, "nft", "add", "table", "inet", "lbdlossy", ";",
		"add", "chain", "inet", "lbdlossy", "out", "{", "type", "filter", "hook", "output", "priority", "0", ";", "}", ";",
		"add", "rule", "inet", "lbdlossy", "out", "tcp", "dport", "7946", "numgen", "random", "mod", "100", "<", "30", "drop", ";",
		"add", "rule", "inet", "lbdlossy", "out", "tcp", "sport", "7946", "numgen", "random", "mod", "100", "<", "30", "drop"); err != nil {
		t.Fatalf("nft: %v %s", err, out)
	}
	t.Logf("this kernel has no sch_netem (%s): 30%% loss with nft numgen, no delay", failed)
	return "nft numgen: 30% loss, no delay (no sch_netem in this kernel)"
}
