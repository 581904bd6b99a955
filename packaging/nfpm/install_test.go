package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestRPMScratchInstallUpgrade installs into a scratch root, edits the
// config, upgrades to a package with a changed default config (.rpmnew), and
// erases (.rpmsave). Scriptlets are tested separately (no /bin/sh in there).
func TestRPMScratchInstallUpgrade(t *testing.T) {
	rpm := needTool(t, "rpm", "apt-get install rpm (or make test-tools)")
	needRoot(t)
	bins := fakeBins(t)
	v1 := buildPkg(t, bins, pkgSpec{packager: "rpm", version: "0.1.0",
		config: writeConfig(t, "# default config v1\nglobal: {}\n")})
	v2cfg := "# default config v2\nglobal:\n  threads: 2\n"
	v2 := buildPkg(t, bins, pkgSpec{packager: "rpm", version: "0.2.0", config: writeConfig(t, v2cfg)})

	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\nlbd:x:990:990::/var/lib/lbd:/sbin/nologin\n")
	mustWrite(t, filepath.Join(root, "etc/group"), "root:x:0:\nlbd:x:990:\n")
	rpmIn := func(args ...string) (string, error) {
		cmd := exec.Command(rpm, append([]string{"--root", root, "--dbpath", "/var/lib/rpm"}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := rpmIn(args...)
		if err != nil {
			t.Fatalf("rpm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	must("--initdb")
	must("-ivh", "--nodeps", "--noscripts", v1)
	if q := must("-q", "lbd"); !strings.Contains(q, "lbd-0.1.0-1") {
		t.Fatalf("rpm -q: %s", q)
	}
	must("-V", "--nodeps", "lbd") // untouched install verifies

	cfg := filepath.Join(root, "etc/lbd/lbd.yaml")
	st, err := os.Stat(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 0 || sys.Gid != 990 || st.Mode().Perm() != 0o660 {
		t.Errorf("lbd.yaml: uid %d gid %d mode %v, want root:lbd(990) 0660", sys.Uid, sys.Gid, st.Mode().Perm())
	}
	for _, f := range []string{"usr/bin/lbd", "usr/bin/lbctl", "usr/lib/systemd/system/lbd.service",
		"usr/share/man/man1/lbd.1.gz", "usr/share/bash-completion/completions/lbctl"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("installed: %v", err)
		}
	}

	edited := "# edited by the admin\nglobal: {}\nvrrp: {}\n"
	mustWrite(t, cfg, edited)
	if out, err := rpmIn("-V", "--nodeps", "lbd"); err == nil || !strings.Contains(out, "c /etc/lbd/lbd.yaml") {
		t.Errorf("rpm -V after edit: err %v, out %q; want the config reported changed", err, out)
	}

	out := must("-Uvh", "--nodeps", "--noscripts", v2)
	if !strings.Contains(out, "/etc/lbd/lbd.yaml created as /etc/lbd/lbd.yaml.rpmnew") {
		t.Errorf("upgrade output lacks the .rpmnew warning:\n%s", out)
	}
	if got := readFile(t, cfg); got != edited {
		t.Errorf("upgrade replaced the edited config:\n%s", got)
	}
	if got := readFile(t, cfg+".rpmnew"); got != v2cfg {
		t.Errorf(".rpmnew = %q, want the new default", got)
	}
	if q := must("-q", "lbd"); !strings.Contains(q, "lbd-0.2.0-1") {
		t.Errorf("after upgrade rpm -q: %s", q)
	}

	out = must("-e", "--nodeps", "--noscripts", "lbd")
	if !strings.Contains(out, "saved as /etc/lbd/lbd.yaml.rpmsave") {
		t.Errorf("erase output lacks .rpmsave:\n%s", out)
	}
	for _, f := range []string{"usr/bin/lbd", "usr/lib/systemd/system/lbd.service", "usr/share/doc/lbd"} {
		if _, err := os.Stat(filepath.Join(root, f)); !os.IsNotExist(err) {
			t.Errorf("%s left after erase (err %v)", f, err)
		}
	}
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// stubEnv is a PATH holding only recording stand-ins for the commands the
// scriptlets call. Accounts live in a file so getent sees what useradd made.
type stubEnv struct {
	dir, log, accounts string
}

func newStubEnv(t *testing.T, withSysusers bool, systemctlRC int) *stubEnv {
	t.Helper()
	s := &stubEnv{dir: t.TempDir()}
	s.log = filepath.Join(s.dir, "calls.log")
	s.accounts = filepath.Join(s.dir, "accounts")
	mustWrite(t, s.accounts, "")
	record := `printf '%s' "${0##*/}" >> LOG; for a in "$@"; do printf ' %s' "$a" >> LOG; done; echo >> LOG
`
	stubs := map[string]string{
		"systemctl": "exit RC\n",
		"getent":    `while read -r kind name; do [ "$kind" = "$1" ] && [ "$name" = "$2" ] && exit 0; done < ACC; exit 2` + "\n",
		"groupadd":  `eval last=\${$#}; echo "group $last" >> ACC` + "\n",
		"useradd":   `eval last=\${$#}; echo "passwd $last" >> ACC` + "\n",
		// Exit status from DIR/NAME.rc (default 0): see failing.
		"lbctl": "rc=0; [ -f DIR/lbctl.rc ] && read -r rc < DIR/lbctl.rc; exit $rc\n",
		"lbd":   "rc=0; [ -f DIR/lbd.rc ] && read -r rc < DIR/lbd.rc; exit $rc\n",
	}
	if withSysusers {
		// Records its stdin (the sysusers line) and creates the account.
		stubs["systemd-sysusers"] = `while read -r line; do echo "stdin: $line" >> LOG; done
echo "group lbd" >> ACC; echo "passwd lbd" >> ACC` + "\n"
	}
	for name, body := range stubs {
		script := "#!/bin/sh\n" + record + body
		script = strings.NewReplacer("LOG", s.log, "ACC", s.accounts, "RC", strconv.Itoa(systemctlRC), "DIR", s.dir).Replace(script)
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// failing makes the lbctl or lbd stub exit 1.
func (s *stubEnv) failing(t *testing.T, name string) {
	t.Helper()
	mustWrite(t, filepath.Join(s.dir, name+".rc"), "1\n")
}

// run executes one scriptlet with only the stubs on PATH; scriptlets must
// always exit 0.
func (s *stubEnv) run(t *testing.T, script string, args ...string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{script}, args...)...)
	cmd.Env = []string{"PATH=" + s.dir}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(script), args, err, out.String())
	}
}

// calls returns the recorded calls and clears the log.
func (s *stubEnv) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(s.log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	os.Remove(s.log)
	out := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(out) == 1 && out[0] == "" {
		return nil
	}
	return out
}

// scriptlet paths: the hand-written files that the packages carry verbatim
// (TestRPMContents and TestDebContents check that).
func scriptlet(name string) string { return filepath.Join(srcDir, "scripts", name+".sh") }

func TestScriptletsSyntax(t *testing.T) {
	for _, n := range []string{"preinstall", "postinstall", "preremove", "postremove"} {
		if out, err := exec.Command("/bin/sh", "-n", scriptlet(n)).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v %s", n, err, out)
		}
	}
}

func TestScriptletsRPM(t *testing.T) {
	sysusersLine := strings.TrimSpace(lastLine(readFile(t, filepath.Join(srcDir, "lbd.sysusers"))))
	for _, tc := range []struct {
		name  string
		steps [][]string // scriptlet, args...
		want  []string
	}{
		{"install with sysusers", [][]string{{"preinstall", "1"}, {"postinstall", "1"}}, []string{
			"systemd-sysusers --replace=/usr/lib/sysusers.d/lbd.conf -",
			"stdin: " + sysusersLine,
			"getent group lbd", "getent passwd lbd",
			"systemctl daemon-reload", "systemctl --no-reload preset lbd.service",
		}},
		// rpm -U order: new %pre, new %post, old %preun, old %postun.
		{"upgrade", [][]string{{"preinstall", "2"}, {"postinstall", "2"}, {"preremove", "1"}, {"postremove", "1"}}, []string{
			"systemd-sysusers --replace=/usr/lib/sysusers.d/lbd.conf -",
			"stdin: " + sysusersLine,
			"getent group lbd", "getent passwd lbd",
			"systemctl daemon-reload",
			"systemctl daemon-reload", "systemctl is-active --quiet lbd.service", "lbctl upgrade",
		}},
		{"erase", [][]string{{"preremove", "0"}, {"postremove", "0"}}, []string{
			"systemctl stop lbd.service", "systemctl --no-reload disable lbd.service",
			"systemctl daemon-reload",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStubEnv(t, true, 0)
			for _, st := range tc.steps {
				s.run(t, scriptlet(st[0]), st[1:]...)
			}
			assertCalls(t, s.calls(t), tc.want)
		})
	}
}

// TestScriptletsUpgradeFallbacks: a failed binary upgrade falls back to a
// restart only when the new version accepts the config; a stopped service
// is left alone (rpm %postun and deb postinst share the logic).
func TestScriptletsUpgradeFallbacks(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fail     []string
		inactive bool
		want     []string
	}{
		{"upgrade fails, config ok: restart", []string{"lbctl"}, false, []string{
			"systemctl daemon-reload", "systemctl is-active --quiet lbd.service", "lbctl upgrade",
			"lbd check -c /etc/lbd/lbd.yaml", "systemctl try-restart lbd.service"}},
		{"upgrade fails, config rejected: keep the old process", []string{"lbctl", "lbd"}, false, []string{
			"systemctl daemon-reload", "systemctl is-active --quiet lbd.service", "lbctl upgrade",
			"lbd check -c /etc/lbd/lbd.yaml"}},
		{"not running: nothing", nil, true, []string{"systemctl daemon-reload", "systemctl is-active --quiet lbd.service"}},
	} {
		for _, step := range [][]string{{"postremove", "1"}, {"postinstall", "configure", "0.1.0"}} {
			t.Run(tc.name+"/"+step[0], func(t *testing.T) {
				rc := 0
				if tc.inactive {
					rc = 3 // systemctl is-active: inactive
				}
				s := newStubEnv(t, false, rc)
				for _, f := range tc.fail {
					s.failing(t, f)
				}
				s.run(t, scriptlet(step[0]), step[1:]...)
				assertCalls(t, s.calls(t), tc.want)
			})
		}
	}
}

func TestScriptletsUserFallback(t *testing.T) {
	s := newStubEnv(t, false, 0) // no systemd-sysusers (EL8-like minimal)
	s.run(t, scriptlet("preinstall"), "1")
	assertCalls(t, s.calls(t), []string{
		"getent group lbd", "groupadd -r lbd",
		"getent passwd lbd", "useradd -r -g lbd -d /var/lib/lbd -M -s /sbin/nologin -c lbd load balancer daemon lbd",
	})
	// Second run (upgrade): the user exists now, nothing is created.
	s.run(t, scriptlet("preinstall"), "2")
	assertCalls(t, s.calls(t), []string{"getent group lbd", "getent passwd lbd"})
}

func TestScriptletsDeb(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps [][]string
		want  []string
	}{
		{"install", [][]string{{"preinstall", "install"}, {"postinstall", "configure", ""}}, []string{
			"getent group lbd", "groupadd -r lbd", "getent passwd lbd",
			"useradd -r -g lbd -d /var/lib/lbd -M -s /sbin/nologin -c lbd load balancer daemon lbd",
			"systemctl daemon-reload", "systemctl --no-reload preset lbd.service",
		}},
		// dpkg upgrade order: old prerm, new preinst, old postrm, new postinst.
		{"upgrade", [][]string{{"preremove", "upgrade", "0.2.0"}, {"preinstall", "upgrade", "0.1.0"},
			{"postremove", "upgrade", "0.2.0"}, {"postinstall", "configure", "0.1.0"}}, []string{
			"getent group lbd", "groupadd -r lbd", "getent passwd lbd",
			"useradd -r -g lbd -d /var/lib/lbd -M -s /sbin/nologin -c lbd load balancer daemon lbd",
			"systemctl daemon-reload",
			"systemctl daemon-reload", "systemctl is-active --quiet lbd.service", "lbctl upgrade",
		}},
		{"remove", [][]string{{"preremove", "remove"}, {"postremove", "remove"}}, []string{
			"systemctl stop lbd.service", "systemctl --no-reload disable lbd.service", "systemctl daemon-reload",
		}},
		{"purge", [][]string{{"postremove", "purge"}}, []string{"systemctl daemon-reload"}},
		{"abort-upgrade", [][]string{{"preinstall", "abort-upgrade", "0.2.0"}, {"postinstall", "abort-upgrade", "0.2.0"}},
			[]string{"systemctl daemon-reload"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStubEnv(t, false, 0)
			for _, st := range tc.steps {
				s.run(t, scriptlet(st[0]), st[1:]...)
			}
			assertCalls(t, s.calls(t), tc.want)
		})
	}
}

// Without a running systemd every systemctl call fails; the scriptlets must
// still succeed (s.run fails the test on a non-zero exit).
func TestScriptletsToleratesFailingSystemctl(t *testing.T) {
	s := newStubEnv(t, false, 1)
	for _, st := range [][]string{{"preinstall", "1"}, {"postinstall", "1"}, {"postinstall", "configure", "0.1"},
		{"preremove", "0"}, {"postremove", "1"}, {"postremove", "0"}} {
		s.run(t, scriptlet(st[0]), st[1:]...)
	}
	if n := len(s.calls(t)); n < 8 {
		t.Errorf("only %d calls recorded", n)
	}
}

func assertCalls(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestRPMLint runs rpmlint with packaging/lbd.rpmlintrc. Never as root:
// rpmlint unpacks absolute paths from nFPM packages into /, so as root the
// test drops to nobody with setpriv. make test installs rpmlint.
func TestRPMLint(t *testing.T) {
	lint := needTool(t, "rpmlint", "apt-get install rpmlint (make test does)")
	// t.TempDir's parent is 0700: nobody could not reach it.
	scratch, err := os.MkdirTemp("", "lbd-rpmlint-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(scratch) })
	if err := os.Chmod(scratch, 0o1777); err != nil {
		t.Fatal(err)
	}
	p := buildPkg(t, fakeBins(t), pkgSpec{packager: "rpm", version: "1.0.0"})
	pkg := filepath.Join(scratch, filepath.Base(p))
	mustWrite(t, pkg, readFile(t, p))
	rc, err := filepath.Abs(filepath.Join(srcDir, "lbd.rpmlintrc"))
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(scratch, "lbd.rpmlintrc"), readFile(t, rc))
	args := []string{lint, "-r", filepath.Join(scratch, "lbd.rpmlintrc"), pkg}
	if os.Geteuid() == 0 {
		setpriv := needTool(t, "setpriv", "apt-get install util-linux")
		args = append([]string{setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = scratch
	cmd.Env = append(os.Environ(), "HOME="+scratch, "TMPDIR="+scratch)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("rpmlint: %v\n%s", err, out)
	}
}
