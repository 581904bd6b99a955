package daemon

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The privilege drop changes the whole process, so it runs in a child: the
// test binary re-executes itself with LBD_TEST_PRIVDROP=1.
func init() {
	if os.Getenv("LBD_TEST_PRIVDROP") != "1" {
		return
	}
	note, err := dropPrivileges("nobody", "nogroup", "")
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(3)
	}
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") || strings.HasPrefix(l, "CapEff:") || strings.HasPrefix(l, "CapPrm:") || strings.HasPrefix(l, "CapAmb:") {
			fmt.Println(l)
		}
	}
	// A program this process starts (a binary upgrade's new lbd) keeps
	// the capabilities through execve.
	if out, err := exec.Command("cat", "/proc/self/status").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "CapEff:") {
				fmt.Println("exec", l)
			}
		}
	}
	// CAP_NET_BIND_SERVICE kept: a port below 1024 still binds.
	if l, err := net.Listen("tcp", "127.0.0.1:1023"); err == nil {
		fmt.Println("bind<1024 ok")
		l.Close()
	} else {
		fmt.Println("bind<1024 failed:", err)
	}
	// Root is gone: /etc/shadow is unreadable.
	if _, err := os.ReadFile("/etc/shadow"); err != nil {
		fmt.Println("shadow denied")
	}
	fmt.Println("NOTE", note)
	os.Exit(0)
}

func TestPrivilegeDropKeepsOnlyNetCaps(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root under CI")
		}
		t.Skip("needs root: sudo go test -run PrivilegeDrop ./internal/daemon")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LBD_TEST_PRIVDROP=1")
	out, err := cmd.CombinedOutput()
	if strings.Contains(string(out), ErrCgoPrivDrop.Error()) {
		t.Skip("built with cgo: CGO_ENABLED=0 go test -run PrivilegeDrop ./internal/daemon (make test does)")
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	s := string(out)
	// CAP_NET_BIND_SERVICE(10) | CAP_NET_ADMIN(12) | CAP_NET_RAW(13) = 0x3400.
	for _, want := range []string{"Uid:\t65534\t65534\t65534\t65534", "CapEff:\t0000000000003400", "CapPrm:\t0000000000003400", "CapAmb:\t0000000000003400", "exec CapEff:\t0000000000003400", "bind<1024 ok", "shadow denied", "NOTE dropped to uid 65534"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in child output:\n%s", want, s)
		}
	}
}
