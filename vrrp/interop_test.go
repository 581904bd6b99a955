package vrrp

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/lab"
)

// requireKeepalived skips without a keepalived binary (fails under CI=true).
func requireKeepalived(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("keepalived")
	if err != nil {
		for _, p := range []string{"/usr/sbin/keepalived", "/sbin/keepalived"} {
			if _, serr := os.Stat(p); serr == nil {
				return p
			}
		}
		if os.Getenv("CI") == "true" {
			t.Fatal("keepalived not installed (CI=true): run scripts/need.sh keepalived:keepalived")
		}
		t.Skip("skipping: keepalived not installed (run: sudo scripts/need.sh keepalived:keepalived)")
	}
	return path
}

// startKeepalived runs keepalived (VRRP only, foreground) in node ln.
//
// The child gets PR_SET_PDEATHSIG from lab.Node.Start, which the kernel ties
// to the forking OS thread, and lab.Do (used by the Nodes under test) throws
// threads away: forked from an arbitrary thread, keepalived could be killed
// when that thread later serves a Do call and dies. So fork it from a locked
// goroutine that stays alive until keepalived exits.
func startKeepalived(t *testing.T, bin string, ln *lab.Node, version, prio int, interval time.Duration, extra string) *lab.Process {
	t.Helper()
	ch := make(chan *lab.Process, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		p := forkKeepalived(t, bin, ln, version, prio, interval, extra)
		ch <- p
		<-p.Done()
	}()
	return <-ch
}

// forkKeepalived writes the config (extra is inserted into the instance
// block) and starts keepalived.
func forkKeepalived(t *testing.T, bin string, ln *lab.Node, version, prio int, interval time.Duration, extra string) *lab.Process {
	dir := t.TempDir()
	conf := fmt.Sprintf(`global_defs {
  router_id ka-%s
  vrrp_version %d
}
vrrp_instance VI_1 {
  state BACKUP
  interface %s
  virtual_router_id 51
  priority %d
  advert_int %g
%s  virtual_ipaddress {
    %s dev %s
  }
}
`, ln.Name, version, ln.IfName, prio, interval.Seconds(), extra, labVIP, ln.IfName)
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Error(err) // not on the test goroutine: no Fatal
	}
	return ln.Start(t, bin, "--dont-fork", "--log-console", "--log-detail", "--vrrp",
		"--use-file", path, "--pid", filepath.Join(dir, "ka.pid"), "--vrrp_pid", filepath.Join(dir, "vrrp.pid"))
}

// TestNetnsKeepalivedInterop runs an lbd Node next to a real keepalived
// (VRRPv3 at 100 ms and VRRPv2 with PASS auth at 1 s), with lbd first as the
// higher and then as the lower priority peer, and checks graceful failover
// both ways and that lbd drops none of keepalived's adverts.
func TestNetnsKeepalivedInterop(t *testing.T) {
	bin := requireKeepalived(t)
	for _, tt := range []struct {
		name     string
		version  int
		interval time.Duration
		pass     string
		unicast  bool
	}{
		{"v3", 3, 100 * time.Millisecond, "", false},
		{"v3-unicast", 3, 100 * time.Millisecond, "", true},
		{"v2", 2, time.Second, "secret12", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := lab.New(t, lab.Config{Nodes: []string{"lbd", "ka"}})
			kaNode := l.Node("ka")
			mdi := MasterDownInterval(tt.version, 100, tt.interval)
			cfg := labInstance(150, tt.interval)
			cfg.Version, cfg.AuthPass = tt.version, tt.pass
			extra := ""
			if tt.pass != "" {
				extra += fmt.Sprintf("  authentication {\n    auth_type PASS\n    auth_pass %s\n  }\n", tt.pass)
			}
			if tt.unicast {
				lbdAddr, kaAddr := l.Node("lbd").Addr.Addr(), kaNode.Addr.Addr()
				extra += fmt.Sprintf("  unicast_src_ip %s\n  unicast_peer {\n    %s\n  }\n", kaAddr, lbdAddr)
				cfg.UnicastSrc, cfg.UnicastPeers = lbdAddr, []netip.Addr{kaAddr}
			}

			// lbd higher (150), keepalived lower (100).
			ka := startKeepalived(t, bin, kaNode, tt.version, 100, tt.interval, extra)
			if !lab.WaitFor(10*time.Second, func() bool { return strings.Contains(ka.Output(), "Entering BACKUP STATE") }) {
				t.Fatalf("keepalived did not start:\n%s", ka.Output())
			}
			a := startLab(t, l.Node("lbd"), cfg)
			waitState(t, a, Master, 3*mdi+2*time.Second)
			time.Sleep(mdi + tt.interval) // give keepalived time to (wrongly) take over
			hasKA := func() bool { ok, _ := kaNode.HasAddr("", labVIP.Addr()); return ok }
			if a.State() != Master || hasKA() || !a.hasVIP(t) {
				t.Fatalf("lbd prio 150: lbd %v, VIP on keepalived %v", a.State(), hasKA())
			}
			// Graceful stop of lbd: keepalived takes over in Skew_Time.
			start := time.Now()
			if err := a.stop(); err != nil {
				t.Fatal(err)
			}
			if !lab.WaitFor(mdi, hasKA) {
				_ = ka.Signal(syscall.SIGTERM)
				_ = ka.Wait(5 * time.Second)
				t.Fatalf("keepalived did not take the VIP within %v of lbd's priority 0; its output:\n%s", mdi, ka.Output())
			}
			t.Logf("keepalived took over %v after lbd's graceful stop (Skew_Time %v)", time.Since(start), SkewTime(tt.version, 100, tt.interval))

			// lbd lower (50): stays backup, accepts every keepalived advert.
			low := cfg
			low.Priority = 50
			a = startLab(t, l.Node("lbd"), low)
			time.Sleep(2 * mdi)
			st := a.Status()
			if a.State() != Backup || st.AdvertsRx == 0 || len(st.Drops) != 0 || st.MasterIP != kaNode.Addr.Addr().String() {
				t.Fatalf("lbd prio 50 next to keepalived master: %v %+v", a.State(), st)
			}
			// keepalived stops (priority 0): lbd takes over in Skew_Time.
			start = time.Now()
			if err := ka.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			waitState(t, a, Master, mdi)
			t.Logf("lbd took over %v after keepalived's SIGTERM (Skew_Time %v)", time.Since(start), SkewTime(tt.version, 50, tt.interval))
			if err := ka.Wait(5 * time.Second); err != nil {
				t.Logf("keepalived exit: %v", err)
			}
			if !lab.WaitFor(time.Second, func() bool { return a.hasVIP(t) && !hasKA() }) {
				t.Fatalf("VIP on lbd=%v keepalived=%v", a.hasVIP(t), hasKA())
			}
			if tt.version == 2 {
				return // slow at 1 s adverts; the v3 runs cover the rest
			}

			// keepalived comes back with priority 200 and preempts lbd.
			ka = startKeepalived(t, bin, kaNode, tt.version, 200, tt.interval, extra)
			waitState(t, a, Backup, 5*time.Second)
			if !lab.WaitFor(time.Second, func() bool { return hasKA() && !a.hasVIP(t) }) {
				t.Fatalf("after keepalived preempted: VIP on lbd=%v keepalived=%v", a.hasVIP(t), hasKA())
			}
			// keepalived crashes (SIGKILL, no priority 0, its VIP stays):
			// lbd takes over after Master_Down_Interval.
			lowMDI := MasterDownInterval(tt.version, 50, tt.interval)
			if err := syscall.Kill(-ka.Pid(), syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			took := waitState(t, a, Master, lowMDI+time.Second)
			t.Logf("lbd took over %v after keepalived's SIGKILL (Master_Down_Interval %v)", took, lowMDI)
			if took < lowMDI-tt.interval-50*time.Millisecond {
				t.Errorf("crash takeover after %v, before Master_Down_Interval - interval", took)
			}
			noSplitBrain(t, 300*time.Millisecond, a)
		})
	}
}
