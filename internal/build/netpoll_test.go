package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNetpollFIFO builds testdata/netpollorder with the overlay that
// scripts/netpoll-fifo.sh makes from this toolchain (what `make build` links
// into bin/lbd) and checks that goroutines woken by one poll run in the
// order their sockets became ready. The stock runtime's order is logged: if
// a Go release makes it FIFO by itself, the overlay would turn it back to
// LIFO, and the script's checks or this test must catch that.
func TestNetpollFIFO(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the overlay is for linux's epoll poller")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		t.Skipf("no go command at %s (run the tests with the go toolchain that builds lbd)", goBin)
	}
	dir := t.TempDir()
	script, err := filepath.Abs("../../scripts/netpoll-fifo.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, filepath.Join(dir, "overlay"))
	cmd.Env = append(os.Environ(), "GO="+goBin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("netpoll-fifo.sh: %v", err)
	}
	overlay := strings.TrimSpace(string(out))
	if overlay == "" {
		t.Fatalf("netpoll-fifo.sh made no overlay for %s (it says why on stderr): make build would link the stock runtime", runtime.Version())
	}
	order := func(name string, args ...string) string {
		bin := filepath.Join(dir, name)
		build := exec.Command(goBin, append(append([]string{"build"}, args...), "-o", bin, "./testdata/netpollorder")...)
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build %v: %v\n%s", args, err, out)
		}
		out, err := exec.Command(bin).Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	if got := order("fifo", "-overlay", overlay); got != "fifo" {
		t.Errorf("built with the overlay: goroutines ran %q, want fifo (the kernel's event order)", got)
	}
	t.Logf("stock %s runtime: %s", runtime.Version(), order("stock"))
}
