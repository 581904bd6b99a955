package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/lab"
)

const bgpVIP = "203.0.113.10"

const bgpNodeConfig = `global:
  control_socket: %SOCK%
sysctl: {apply: false}
defaults:
  timeouts: {connect: 1s}
frontends:
  - {name: web, bind: ["` + bgpVIP + `:80"], default_backend: app}
backends:
  - name: app
    health_check: {type: http, method: GET, uri: /}
    servers:
      - {name: s1, address: "127.0.0.1:8081", check: true, inter: 100ms, rise: 1, fall: 1}
bgp:
  asn: 65001
  router_id: %RID%
  prefixes: [` + bgpVIP + `/32]
  drain: 2s
  graceful_restart: 10s
  neighbors:
    - {address: 192.0.2.11, asn: 65000, hold_time: 3s, keepalive: 1s, connect_retry: 1s}
`

const bgpBirdConfig = `log stderr all;
router id 192.0.2.11;
protocol device { scan time 1; }
protocol kernel {
  ipv4 { import none; export all; };
  merge paths on;
}
template bgp lbd {
  local 192.0.2.11 as 65000;
  ipv4 { import all; export none; };
  hold time 3; keepalive time 1; connect retry time 1;
  passive on;
  graceful restart on;
}
protocol bgp node_a from lbd { neighbor 192.0.2.12 as 65001; }
protocol bgp node_b from lbd { neighbor 192.0.2.13 as 65001; }
`

// bgpStrayDropRules drop packets to the VIP that belong to no connection this
// node knows (with nf_conntrack_tcp_loose=0) instead of answering them
// with a reset.
const bgpStrayDropRules = `table inet lbd_stray {
  chain input {
    type filter hook input priority 0;
    ip daddr ` + bgpVIP + ` ct state invalid drop
  }
}
`

// bgpNodeBackend is the one backend server of an lbd node, listening on
// 127.0.0.1:8081 inside the node's namespace and answering its name.
type bgpNodeBackend struct {
	srv *http.Server
}

func startBGPNodeBackend(t *testing.T, n *lab.Node) *bgpNodeBackend {
	t.Helper()
	var ln net.Listener
	if err := n.Do(func() (err error) {
		ln, err = net.Listen("tcp", "127.0.0.1:8081")
		return err
	}); err != nil {
		t.Fatalf("backend in %s: %v", n.Name, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "node="+n.Name)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &bgpNodeBackend{srv: srv}
}

// bgpRawGet is a strict client: one new connection per request (a new source
// port, so ECMP hashes each one afresh), no retry; anything but a complete
// 200 is a failure. It returns the node that answered.
func bgpRawGet(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: vip\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return strings.TrimPrefix(string(body), "node="), nil
}

// bgpClientLoad runs workers in the client namespace, each sending requests
// until stop is closed or max requests were sent in all.
type bgpClientLoad struct {
	mu       sync.Mutex
	byNode   map[string]int
	failed   int
	firstErr error
	failedAt []time.Time // when each failed request started
	sent     atomic.Int64
}

func runBGPClients(c *lab.Node, workers int, max int64, stop <-chan struct{}) *bgpClientLoad {
	ld := &bgpClientLoad{byNode: map[string]int{}}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Do(func() error {
				deadline := time.Now().Add(20 * time.Second) // bounded in time too
				for ld.sent.Add(1) <= max && time.Now().Before(deadline) {
					select {
					case <-stop:
						return nil
					default:
					}
					began := time.Now()
					node, err := bgpRawGet(bgpVIP + ":80")
					ld.mu.Lock()
					if err != nil {
						ld.failed++
						ld.failedAt = append(ld.failedAt, began)
						if ld.firstErr == nil {
							ld.firstErr = err
						}
					} else {
						ld.byNode[node]++
					}
					ld.mu.Unlock()
				}
				return nil
			})
		}()
	}
	wg.Wait()
	return ld
}

func (ld *bgpClientLoad) String() string {
	return fmt.Sprintf("served %v, failed %d (first: %v)", ld.byNode, ld.failed, ld.firstErr)
}

// TestNetnsBGPECMP: a router namespace runs BIRD 2 with ECMP (merge paths);
// lbd nodes a and b announce one VIP over eBGP; a client namespace sits
// behind the router. (a) BIRD has two paths, the kernel route two next
// hops, and requests reach both nodes; (b) a node whose backend fails
// withdraws and, once the router converged, the client sees no error;
// lbctl bgp withdraw/resume; (e) a binary upgrade under load keeps both
// next hops (graceful restart); (c) a graceful stop under load (withdraw,
// drain, close) fails no request started after the withdraw; (d) a hung
// node's path goes after the hold time.
func TestNetnsBGPECMP(t *testing.T) {
	lab.Require(t)
	if _, err := exec.LookPath("bird"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bird not found: apt-get install bird2 (make test installs it)")
		}
		t.Skip("bird not found: apt-get install bird2")
	}
	bin := buildLBD(t)
	l := lab.New(t, lab.Config{Nodes: []string{"r", "a", "b", "c"}})
	r, a, b, c := l.Node("r"), l.Node("a"), l.Node("b"), l.Node("c")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func(n *lab.Node, args ...string) string {
		t.Helper()
		out, err := n.Run(ctx, args[0], args[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	strayDrop := filepath.Join(t.TempDir(), "stray.nft")
	if err := os.WriteFile(strayDrop, []byte(bgpStrayDropRules), 0o600); err != nil {
		t.Fatal(err)
	}
	// The client sits behind the router on its own link.
	run(r, "ip", "link", "add", "rc0", "type", "veth", "peer", "name", "cl0", "netns", c.NS)
	run(r, "ip", "addr", "add", "198.51.100.1/24", "dev", "rc0")
	run(r, "ip", "link", "set", "rc0", "up")
	run(c, "ip", "link", "set", "lab0", "down")
	run(c, "ip", "addr", "add", "198.51.100.2/24", "dev", "cl0")
	run(c, "ip", "link", "set", "cl0", "up")
	run(c, "ip", "route", "add", "default", "via", "198.51.100.1")
	for _, n := range []*lab.Node{a, b} {
		run(n, "ip", "route", "add", "198.51.100.0/24", "via", "192.0.2.11")
		// When a node withdraws, the router rehashes its in-flight flows
		// to the other node. Dropping (not resetting) packets of flows a
		// node does not know lets the withdrawing node finish them while
		// it drains (docs/scale-out.md).
		if os.Getenv("LBD_BGP_NO_STRAY_DROP") == "" {
			run(n, "nft", "-f", strayDrop)
			run(n, "sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_loose=0")
		}
	}
	run(r, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.fib_multipath_hash_policy=1")

	dir := t.TempDir()
	birdConf := filepath.Join(dir, "bird.conf")
	birdSock := filepath.Join(dir, "bird.ctl")
	if err := os.WriteFile(birdConf, []byte(bgpBirdConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	r.Start(t, "bird", "-f", "-c", birdConf, "-s", birdSock, "-P", filepath.Join(dir, "bird.pid"))

	backends := map[string]*bgpNodeBackend{"a": startBGPNodeBackend(t, a), "b": startBGPNodeBackend(t, b)}
	procs := map[string]*lab.Process{}
	clients := map[string]*control.Client{}
	for _, n := range []*lab.Node{a, b} {
		sock := filepath.Join(dir, n.Name+".sock")
		cfg := strings.NewReplacer("%SOCK%", sock, "%RID%", n.Addr.Addr().String()).Replace(bgpNodeConfig)
		path := filepath.Join(dir, n.Name+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		procs[n.Name] = n.Start(t, bin, "run", "-c", path)
		clients[n.Name] = &control.Client{Socket: sock, Timeout: 10 * time.Second}
	}
	nexthops := func() int {
		out, err := r.Run(ctx, "ip", "route", "show", bgpVIP)
		if err != nil || strings.TrimSpace(out) == "" {
			return 0
		}
		if n := strings.Count(out, "nexthop via"); n > 0 {
			return n
		}
		return 1
	}
	birdRoutes := func() string {
		out, _ := r.Run(ctx, "birdc", "-s", birdSock, "show", "route", "for", bgpVIP)
		return out
	}

	// (a) both nodes announce: two paths in BIRD, two next hops in the
	// kernel, and traffic reaches both.
	start := time.Now()
	if !lab.WaitFor(20*time.Second, func() bool { return nexthops() == 2 }) {
		t.Fatalf("no ECMP route with two next hops; bird:\n%s\na:\n%s", birdRoutes(), procs["a"].Output())
	}
	t.Logf("ECMP route with 2 next hops %v after start", time.Since(start).Round(time.Millisecond))
	if br := birdRoutes(); !strings.Contains(br, "192.0.2.12") || !strings.Contains(br, "192.0.2.13") {
		t.Fatalf("birdc show route lacks a path:\n%s", br)
	}
	ld := runBGPClients(c, 4, 200, nil)
	if ld.failed != 0 || ld.byNode["a"] == 0 || ld.byNode["b"] == 0 {
		t.Fatalf("(a) traffic: %v", ld)
	}
	for name, cl := range clients {
		st, err := cl.Status(ctx)
		if err != nil || st.BGP == nil || !st.BGP.Announced || len(st.BGP.Neighbors) != 1 || st.BGP.Neighbors[0].State != "established" {
			t.Fatalf("node %s status: %+v %v", name, st, err)
		}
		if got := st.Frontends[0].Requests; got != uint64(ld.byNode[name]) {
			t.Errorf("node %s: frontend counted %d requests, the client saw %d", name, got, ld.byNode[name])
		}
	}
	t.Logf("(a) %v", ld)

	// (b) node a's backend fails: a withdraws, the router keeps one path,
	// and the client sees no error.
	killed := time.Now()
	backends["a"].srv.Close()
	if !lab.WaitFor(10*time.Second, func() bool { return nexthops() == 1 }) {
		t.Fatalf("route not withdrawn after a's backend failed; bird:\n%s", birdRoutes())
	}
	converged := time.Since(killed)
	if br := birdRoutes(); strings.Contains(br, "192.0.2.12") {
		t.Fatalf("BIRD still has a's path:\n%s", br)
	}
	st, _ := clients["a"].Status(ctx)
	if st == nil || st.BGP.Announced || !strings.Contains(st.BGP.Reason, "backend app") {
		t.Fatalf("node a should say why it withdrew: %+v", st.BGP)
	}
	ld = runBGPClients(c, 4, 200, nil)
	if ld.failed != 0 || ld.byNode["a"] != 0 {
		t.Fatalf("(b) after convergence: %v", ld)
	}
	t.Logf("(b) a withdrew %v after its backend failed; then %v", converged.Round(time.Millisecond), ld)

	// lbctl bgp withdraw / resume on b, with a's backend back.
	backends["a"] = startBGPNodeBackend(t, a)
	if !lab.WaitFor(10*time.Second, func() bool { return nexthops() == 2 }) {
		t.Fatalf("a did not announce again; bird:\n%s", birdRoutes())
	}
	if err := clients["b"].BGPWithdraw(ctx); err != nil {
		t.Fatal(err)
	}
	if !lab.WaitFor(10*time.Second, func() bool { return nexthops() == 1 }) {
		t.Fatal("lbctl bgp withdraw did not withdraw b")
	}
	if err := clients["b"].BGPResume(ctx); err != nil {
		t.Fatal(err)
	}
	if !lab.WaitFor(10*time.Second, func() bool { return nexthops() == 2 }) {
		t.Fatal("lbctl bgp resume did not announce b again")
	}

	// (e) binary upgrade of a under load: with graceful restart the route
	// keeps both next hops throughout.
	stop := make(chan struct{})
	done := make(chan *bgpClientLoad)
	go func() { done <- runBGPClients(c, 4, 20000, stop) }()
	var minHops atomic.Int64
	minHops.Store(2)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for i := 0; i < 400; i++ { // bounded: about 8 s
			select {
			case <-stop:
				return
			default:
			}
			if n := int64(nexthops()); n < minHops.Load() {
				minHops.Store(n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	time.Sleep(300 * time.Millisecond)
	res, err := clients["a"].Upgrade(ctx)
	if err != nil || !res.OK {
		t.Fatalf("upgrade of a: %+v %v", res, err)
	}
	if !lab.WaitFor(15*time.Second, func() bool {
		st, err := clients["a"].Status(ctx)
		return err == nil && st.PID == res.NewPID && st.BGP != nil && st.BGP.Announced &&
			len(st.BGP.Neighbors) == 1 && st.BGP.Neighbors[0].State == "established"
	}) {
		t.Fatalf("the new process of a did not re-establish its session; bird:\n%s", birdRoutes())
	}
	time.Sleep(time.Second)
	close(stop)
	ld = <-done
	<-watchDone
	// The route must never lose a, and the upgrade must not lose a request
	// (the old process's soft stop, proxy/softstop.go).
	if minHops.Load() != 2 || ld.failed != 0 {
		t.Fatalf("(e) upgrade under load: %v; fewest next hops seen %d", ld, minHops.Load())
	}
	t.Logf("(e) binary upgrade of a (pid %d -> %d): 2 next hops throughout; %v", res.OldPID, res.NewPID, ld)

	// (c) graceful stop of b under load: b withdraws, keeps serving for
	// bgp.drain, then closes. No request that starts after the withdraw
	// fails. Plain ECMP moves b's in-flight flows to a at the withdraw:
	// with the stray-packet drop above b still finishes those whose
	// request reached it; one caught between its handshake with b and its
	// request (a few microseconds) can still fail. Those are counted.
	stop = make(chan struct{})
	go func() { done <- runBGPClients(c, 4, 20000, stop) }()
	time.Sleep(500 * time.Millisecond)
	stopped := time.Now()
	if err := procs["b"].Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := procs["b"].Wait(15 * time.Second); err != nil {
		t.Errorf("b exit: %v", err)
	}
	exited := time.Since(stopped)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	ld = <-done
	total := ld.failed
	for _, n := range ld.byNode {
		total += n
	}
	late := 0
	for _, at := range ld.failedAt {
		if at.Sub(stopped) > 250*time.Millisecond || at.Sub(stopped) < -250*time.Millisecond {
			late++
		}
	}
	if late != 0 || (ld.failed > 2 && ld.failed*1000 > total) || ld.byNode["b"] == 0 || ld.byNode["a"] == 0 {
		t.Fatalf("(c) graceful stop under load: %v; %d failures away from the withdraw at %v (%v)\nb:\n%s", ld, late, stopped, ld.failedAt, procs["b"].Output())
	}
	if out := procs["b"].Output(); !strings.Contains(out, "draining before closing the listeners") {
		t.Errorf("b did not drain:\n%s", out)
	}
	if nexthops() != 1 {
		t.Errorf("route still has b after its stop")
	}
	t.Logf("(c) b stopped in %v (drain 2s); %d requests, %v; failures only at the route switch", exited.Round(time.Millisecond), total, ld)

	// (d) a hung b (SIGSTOP: no FIN, no keepalive) keeps its path until
	// the router's hold time (3 s) runs out; the outage is bounded by it.
	procs["b"] = b.Start(t, bin, "run", "-c", filepath.Join(dir, "b.yaml"))
	if !lab.WaitFor(20*time.Second, func() bool { return nexthops() == 2 }) {
		t.Fatalf("b did not announce after its restart; bird:\n%s", birdRoutes())
	}
	killed = time.Now()
	if err := syscall.Kill(procs["b"].Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(procs["b"].Pid(), syscall.SIGKILL)
	if !lab.WaitFor(10*time.Second, func() bool { return nexthops() == 1 }) {
		t.Fatalf("the router kept b's path after it hung; bird:\n%s", birdRoutes())
	}
	gone := time.Since(killed)
	if gone < 1500*time.Millisecond || gone > 5*time.Second {
		t.Errorf("b's path went %v after it hung, want the 3s hold time less up to a keepalive", gone)
	}
	ld = runBGPClients(c, 4, 200, nil)
	if ld.failed != 0 {
		t.Fatalf("(d) after the hold time: %v", ld)
	}
	t.Logf("(d) hung node: the router dropped b's path after %v (hold time 3s); then %v", gone.Round(time.Millisecond), ld)
	// kill -9 closes the sockets: the kernel's FIN ends the session at once.
	syscall.Kill(procs["b"].Pid(), syscall.SIGKILL)
}

// TestNetnsBGPBFD: with BFD (GoBGP's native BFD, BIRD's bfd protocol) a
// hung node's path goes within the BFD detection time (3 x 100 ms), long
// before the 9 s hold time.
func TestNetnsBGPBFD(t *testing.T) {
	lab.Require(t)
	if _, err := exec.LookPath("bird"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bird not found: apt-get install bird2 (make test installs it)")
		}
		t.Skip("bird not found: apt-get install bird2")
	}
	bin := buildLBD(t)
	l := lab.New(t, lab.Config{Nodes: []string{"r", "a"}})
	r, a := l.Node("r"), l.Node("a")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	bird := `router id 192.0.2.11;
protocol device { scan time 1; }
protocol kernel { ipv4 { import none; export all; }; merge paths on; }
protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }
protocol bgp node_a {
  local 192.0.2.11 as 65000; neighbor 192.0.2.12 as 65001;
  ipv4 { import all; export none; };
  hold time 9; keepalive time 3; connect retry time 1; passive on; bfd on;
}
`
	if err := os.WriteFile(filepath.Join(dir, "bird.conf"), []byte(bird), 0o600); err != nil {
		t.Fatal(err)
	}
	r.Start(t, "bird", "-f", "-c", filepath.Join(dir, "bird.conf"), "-s", filepath.Join(dir, "bird.ctl"), "-P", filepath.Join(dir, "bird.pid"))
	startBGPNodeBackend(t, a)
	sock := filepath.Join(dir, "a.sock")
	cfg := strings.NewReplacer("%SOCK%", sock, "%RID%", "192.0.2.12",
		"hold_time: 3s, keepalive: 1s, connect_retry: 1s}", "hold_time: 9s, keepalive: 3s, connect_retry: 1s, bfd: {min_tx: 100ms, min_rx: 100ms, multiplier: 3}}").Replace(bgpNodeConfig)
	if !strings.Contains(cfg, "bfd:") {
		t.Fatal("test config lacks bfd")
	}
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := a.Start(t, bin, "run", "-c", filepath.Join(dir, "a.yaml"))
	cl := &control.Client{Socket: sock, Timeout: 10 * time.Second}
	routed := func() bool {
		out, err := r.Run(ctx, "ip", "route", "show", bgpVIP)
		return err == nil && strings.Contains(out, "192.0.2.12")
	}
	if !lab.WaitFor(20*time.Second, func() bool {
		st, err := cl.Status(ctx)
		return err == nil && st.BGP != nil && len(st.BGP.Neighbors) == 1 && st.BGP.Neighbors[0].BFD == "up" && routed()
	}) {
		st, _ := cl.Status(ctx)
		t.Fatalf("no BFD session or route: %+v\n%s", st, p.Output())
	}
	hung := time.Now()
	if err := syscall.Kill(p.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(p.Pid(), syscall.SIGKILL)
	if !lab.WaitFor(8*time.Second, func() bool { return !routed() }) {
		t.Fatal("the router kept the hung node's path for 8 s")
	}
	gone := time.Since(hung)
	if gone > 2*time.Second {
		t.Errorf("path went after %v: BFD (3 x 100 ms) should beat the 9 s hold time", gone)
	}
	t.Logf("BFD: the router dropped the hung node's path after %v (hold time 9 s)", gone.Round(time.Millisecond))
}
