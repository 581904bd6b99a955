package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// verifyUnit runs systemd-analyze verify on a copy of unit whose
// /usr/bin/lbd points at a stand-in executable (verify insists that
// ExecStart exists). It returns stderr; any output there is a warning.
func verifyUnit(t *testing.T, analyze, unit string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	fake := filepath.Join(dir, "lbd")
	mustWrite(t, fake, "#!/bin/sh\nexit 0\n")
	if err := os.Chmod(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "lbd.service")
	mustWrite(t, p, strings.ReplaceAll(unit, "/usr/bin/lbd ", fake+" "))
	cmd := exec.Command(analyze, "verify", "--man=no", p)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	return stderr.String(), err
}

func TestUnitVerifies(t *testing.T) {
	analyze := needTool(t, "systemd-analyze", "apt-get install systemd (or make test-tools)")
	unit := readFile(t, filepath.Join(srcDir, "lbd.service"))
	if !strings.Contains(unit, "ExecStart=/usr/bin/lbd run") {
		t.Fatal("unit has no ExecStart=/usr/bin/lbd run")
	}
	if stderr, err := verifyUnit(t, analyze, unit); err != nil || stderr != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, stderr)
	}
	// The harness must notice warnings (verify exits 0 for unknown keys).
	bad := strings.Replace(unit, "[Service]\n", "[Service]\nProtectSystm=strict\n", 1)
	if stderr, _ := verifyUnit(t, analyze, bad); !strings.Contains(stderr, "Unknown key") {
		t.Errorf("a misspelt key went unnoticed: %q", stderr)
	}
}

// TestUnitDirectives pins the contract other parts rely on: the daemon's
// notify/reload protocol, the capability set and the sandbox.
func TestUnitDirectives(t *testing.T) {
	f, err := os.Open(filepath.Join(srcDir, "lbd.service"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Errorf("malformed line %q", l)
			continue
		}
		got[k] = append(got[k], v)
	}
	caps := "CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE"
	want := map[string][]string{
		"Type":                    {"notify"},
		"NotifyAccess":            {"main"},
		"ExecStartPre":            {"+/usr/bin/lbd sysctl -c /etc/lbd/lbd.yaml", "/usr/bin/lbd check -c /etc/lbd/lbd.yaml"},
		"ExecStart":               {"/usr/bin/lbd run -c /etc/lbd/lbd.yaml"},
		"ExecReload":              {"/usr/bin/lbd check -c /etc/lbd/lbd.yaml", "/bin/kill -HUP $MAINPID"},
		"User":                    {"lbd"},
		"Group":                   {"lbd"},
		"AmbientCapabilities":     {caps},
		"CapabilityBoundingSet":   {caps},
		"RuntimeDirectory":        {"lbd"},
		"RuntimeDirectoryMode":    {"0750"},
		"Restart":                 {"on-failure"},
		"NoNewPrivileges":         {"yes"},
		"ProtectSystem":           {"strict"},
		"ReadWritePaths":          {"/etc/lbd"},
		"ProtectHome":             {"yes"},
		"PrivateTmp":              {"yes"},
		"RestrictAddressFamilies": {"AF_INET AF_INET6 AF_UNIX AF_NETLINK AF_PACKET"},
		"LimitNOFILE":             {"1048576"},
		"TimeoutStopSec":          {"30s"},
		"WantedBy":                {"multi-user.target"},
	}
	for k, w := range want {
		if strings.Join(got[k], "|") != strings.Join(w, "|") {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
}

// TestSysctlDropIn checks the vendor sysctl.d file sets the booleans lbd
// needs and never lowers the global limits (they are left to `lbd sysctl`).
func TestSysctlDropIn(t *testing.T) {
	set := map[string]string{}
	for _, l := range strings.Split(readFile(t, filepath.Join(srcDir, "60-lbd.conf")), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("malformed sysctl line %q", l)
		}
		set[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	for _, k := range []string{"net.ipv4.ip_nonlocal_bind", "net.ipv6.ip_nonlocal_bind", "net.ipv4.ip_forward"} {
		if set[k] != "1" {
			t.Errorf("%s = %q, want 1", k, set[k])
		}
	}
	for _, k := range []string{"fs.file-max", "net.netfilter.nf_conntrack_max"} {
		if v, ok := set[k]; ok {
			t.Errorf("%s = %s set at boot could lower a larger kernel default", k, v)
		}
	}
	if len(set) != 3 {
		t.Errorf("unexpected keys: %v", set)
	}
}
