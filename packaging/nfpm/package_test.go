package main

import (
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// srcDir is packaging/, seen from packaging/nfpm.
const srcDir = ".."

var testMTime = time.Unix(1700000000, 0).UTC()

// needTool skips (or fails under CI=true) when a command is missing.
func needTool(t *testing.T, name, remedy string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (CI=true): %s", name, remedy)
		}
		t.Skipf("%s not found: %s", name, remedy)
	}
	return p
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (CI=true): run the tests as root")
		}
		t.Skip("needs root (rpm --root chowns files): run the tests as root")
	}
}

// fakeBins writes shell stand-ins for lbd and lbctl that answer
// `completion bash` and `man DIR` like the cobra commands do.
func fakeBins(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range []string{"lbd", "lbctl"} {
		script := `#!/bin/sh
case "$1" in
completion) printf '# bash completion for NAME\ncomplete -o default -F __start_NAME NAME\n' ;;
man) mkdir -p "$2" && printf '.TH "NAME" "1" "%s" "" ""\n.SH NAME\nNAME\n' "$SOURCE_DATE_EPOCH" > "$2/NAME.1" &&
     printf '.TH "NAME-version" "1"\n' > "$2/NAME-version.1" ;;
*) echo "usage" >&2; exit 2 ;;
esac
`
		script = strings.ReplaceAll(script, "NAME", b)
		if err := os.WriteFile(filepath.Join(dir, b), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lbd.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type pkgSpec struct {
	packager, version, config string
	mtime                     time.Time
}

func buildPkg(t *testing.T, bin string, s pkgSpec) string {
	t.Helper()
	if s.config == "" {
		s.config = writeConfig(t, "# example\nglobal:\n  threads: 1\n")
	}
	if s.mtime.IsZero() {
		s.mtime = testMTime
	}
	p, err := build(context.Background(), options{
		Packager: s.packager, Version: s.version, Release: "1", Arch: "amd64",
		OutDir: t.TempDir(), BinDir: bin, SrcDir: srcDir, Config: s.config,
		BuildHost: "reproducible", MTime: s.mtime, allowNonELF: true,
	})
	if err != nil {
		t.Fatalf("build %s: %v", s.packager, err)
	}
	return p
}

func cmdOut(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: "v1.2.3", want: "1.2.3"},
		{in: "1.2.3", want: "1.2.3"},
		{in: "v1.2.3-rc.1", want: "1.2.3~rc.1"},
		{in: "v1.2.3-rc1-dirty", want: "1.2.3~rc1+dirty"},
		{in: "v1.2.3-4-gabc1234", want: "1.2.3+4.gabc1234"},
		{in: "v1.2.3-4-gabc1234-dirty", want: "1.2.3+4.gabc1234.dirty"},
		{in: "v1.2.3-dirty", want: "1.2.3+dirty"},
		{in: "3410d1d", want: "0.0.0~git.3410d1d"},
		{in: "3410d1d-dirty", want: "0.0.0~git.3410d1d.dirty"},
		{in: "devel", want: "0.0.0~git.devel"},
		{in: "", bad: true},
		{in: "1.2.3 ; rm", bad: true},
		{in: "-1", bad: true},
		{in: "1.2/3", bad: true},
		{in: strings.Repeat("1", 200), bad: true},
	} {
		v, err := parseVersion(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseVersion(%q) = %q, want error", tc.in, v)
			}
			continue
		}
		if err != nil || v.String() != tc.want {
			t.Errorf("parseVersion(%q) = %q, %v; want %q", tc.in, v, err, tc.want)
		}
	}
}

func TestParseVersionOrdersLikeRPM(t *testing.T) {
	rpm := needTool(t, "rpm", "apt-get install rpm (or make test-tools)")
	// rpm's own comparison (embedded lua, rpm >= 4.16).
	order := []string{"0.0.0~git.abc", "1.2.3~rc.1", "1.2.3", "1.2.3+4.gabc"}
	for i := 0; i+1 < len(order); i++ {
		out := cmdOut(t, rpm, "--eval", "%{lua: print(rpm.vercmp('"+order[i]+"', '"+order[i+1]+"'))}")
		if strings.TrimSpace(out) != "-1" {
			t.Errorf("rpm.vercmp(%s, %s) = %q, want -1", order[i], order[i+1], strings.TrimSpace(out))
		}
	}
}

func TestDefaultMTime(t *testing.T) {
	commit := func() (time.Time, error) { return time.Unix(42, 0).UTC(), nil }
	if got, err := defaultMTime("1700000000", commit); err != nil || !got.Equal(testMTime) {
		t.Errorf("SOURCE_DATE_EPOCH: got %v, %v", got, err)
	}
	if got, err := defaultMTime("", commit); err != nil || got.Unix() != 42 {
		t.Errorf("commit time: got %v, %v", got, err)
	}
	if _, err := defaultMTime("yesterday", commit); err == nil {
		t.Error("bad SOURCE_DATE_EPOCH accepted")
	}
}

func TestCheckBinary(t *testing.T) {
	if err := checkBinary(filepath.Join(t.TempDir(), "nope"), "amd64", false); err == nil {
		t.Error("missing binary accepted")
	}
	bins := fakeBins(t)
	if err := checkBinary(filepath.Join(bins, "lbd"), "amd64", false); err == nil {
		t.Error("shell script accepted as a binary")
	}
	sh, _ := filepath.EvalSymlinks("/bin/sh")
	if err := checkBinary(sh, "amd64", false); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("dynamic /bin/sh: got %v, want dynamically linked error", err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(self)
	if err != nil {
		t.Skip("test binary is not ELF")
	}
	static := true
	for _, p := range f.Progs {
		static = static && p.Type != elf.PT_INTERP
	}
	f.Close()
	if !static {
		t.Skip("test binary is dynamically linked (CGO_ENABLED=1); static case not checked")
	}
	if err := checkBinary(self, runtime.GOARCH, false); err != nil {
		t.Errorf("static test binary rejected: %v", err)
	}
	other := map[bool]string{true: "arm64", false: "amd64"}[runtime.GOARCH == "amd64"]
	if err := checkBinary(self, other, false); err == nil {
		t.Errorf("%s binary accepted for %s", runtime.GOARCH, other)
	}
}

// wantFiles is every path the packages must install (dirs the package owns
// included), with the fake binaries' man pages.
var wantFiles = []string{
	"/etc/lbd",
	"/etc/lbd/lbd.yaml",
	"/usr/bin/lbctl",
	"/usr/bin/lbd",
	"/usr/lib/systemd/system/lbd.service",
	"/usr/lib/sysctl.d/60-lbd.conf",
	"/usr/lib/sysusers.d/lbd.conf",
	"/usr/share/bash-completion/completions/lbctl",
	"/usr/share/bash-completion/completions/lbd",
	"/usr/share/doc/lbd",
	"/usr/share/doc/lbd/logrotate-lbd",
	"/usr/share/doc/lbd/rsyslog-lbd.conf",
	"/usr/share/man/man1/lbctl-version.1.gz",
	"/usr/share/man/man1/lbctl.1.gz",
	"/usr/share/man/man1/lbd-version.1.gz",
	"/usr/share/man/man1/lbd.1.gz",
}

func TestRPMContents(t *testing.T) {
	rpm := needTool(t, "rpm", "apt-get install rpm (or make test-tools)")
	p := buildPkg(t, fakeBins(t), pkgSpec{packager: "rpm", version: "v1.2.3"})
	if filepath.Base(p) != "lbd-1.2.3-1.x86_64.rpm" {
		t.Errorf("file name %s", filepath.Base(p))
	}

	got := strings.Fields(cmdOut(t, rpm, "-qpl", p))
	want := append([]string(nil), wantFiles...)
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rpm -qpl:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c := strings.TrimSpace(cmdOut(t, rpm, "-qpc", p)); c != "/etc/lbd/lbd.yaml" {
		t.Errorf("rpm -qpc = %q, want only /etc/lbd/lbd.yaml", c)
	}

	// flags, mode, owner per file
	attrs := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(cmdOut(t, rpm, "-qp", "--qf",
		`[%{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]`, p)), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 { // empty fflags
			f = append([]string{"-"}, f...)
		}
		attrs[f[3]] = strings.Join(f[:3], " ")
	}
	for path, want := range map[string]string{
		"/etc/lbd/lbd.yaml":                   "cn -rw-rw---- root:lbd",
		"/etc/lbd":                            "- drwxrwx--- root:lbd",
		"/usr/bin/lbd":                        "- -rwxr-xr-x root:root",
		"/usr/bin/lbctl":                      "- -rwxr-xr-x root:root",
		"/usr/lib/systemd/system/lbd.service": "- -rw-r--r-- root:root",
		"/usr/share/doc/lbd/rsyslog-lbd.conf": "d -rw-r--r-- root:root",
		"/usr/share/man/man1/lbd.1.gz":        "d -rw-r--r-- root:root",
	} {
		if attrs[path] != want {
			t.Errorf("%s: %q, want %q", path, attrs[path], want)
		}
	}

	info := cmdOut(t, rpm, "-qpi", p)
	for _, want := range []string{
		"Name        : lbd", "Version     : 1.2.3", "Release     : 1", "Architecture: x86_64",
		"License     : Apache-2.0", "URL         : " + pkgURL, "Vendor      : " + pkgVendor,
		"Summary     : " + pkgSummary, "Packager    : " + pkgMaint, "Build Host  : reproducible",
		"one static binary",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("rpm -qpi lacks %q:\n%s", want, info)
		}
	}
	if !strings.Contains(info, "Build Date  : Tue 14 Nov 2023") && !strings.Contains(info, "Build Date  : Tue Nov 14") {
		t.Errorf("build date is not SOURCE_DATE_EPOCH:\n%s", info)
	}

	// Scriptlets: the hand-written files, run by /bin/sh.
	for tag, file := range map[string]string{"PREIN": "preinstall.sh", "POSTIN": "postinstall.sh",
		"PREUN": "preremove.sh", "POSTUN": "postremove.sh"} {
		body := cmdOut(t, rpm, "-qp", "--qf", "%{"+tag+"}", p)
		if strings.TrimSpace(body) != strings.TrimSpace(readFile(t, filepath.Join(srcDir, "scripts", file))) {
			t.Errorf("%s differs from scripts/%s", tag, file)
		}
		if prog := cmdOut(t, rpm, "-qp", "--qf", "%{"+tag+"PROG}", p); prog != "/bin/sh" {
			t.Errorf("%sPROG = %q", tag, prog)
		}
	}
	scripts := cmdOut(t, rpm, "-qp", "--scripts", p)
	for _, want := range []string{"preinstall scriptlet", "postinstall scriptlet", "preuninstall scriptlet",
		"postuninstall scriptlet", "lbctl upgrade", "systemctl try-restart lbd.service"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm --scripts lacks %q", want)
		}
	}
	if req := cmdOut(t, rpm, "-qpR", p); !strings.Contains(req, "systemd") || !strings.Contains(req, "shadow-utils") {
		t.Errorf("requires: %s", req)
	}
	if k := cmdOut(t, rpm, "-K", p); !strings.Contains(k, "digests OK") {
		t.Errorf("rpm -K: %s", k)
	}
}

func TestDebContents(t *testing.T) {
	dpkg := needTool(t, "dpkg-deb", "apt-get install dpkg (or make test-tools)")
	p := buildPkg(t, fakeBins(t), pkgSpec{packager: "deb", version: "v1.2.3-rc.1"})
	if filepath.Base(p) != "lbd_1.2.3~rc.1-1_amd64.deb" {
		t.Errorf("file name %s", filepath.Base(p))
	}
	listing := cmdOut(t, dpkg, "-c", p)
	entries := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(listing), "\n") {
		f := strings.Fields(l)
		name := strings.TrimSuffix(strings.TrimPrefix(f[len(f)-1], "."), "/")
		entries[name] = f[0] + " " + f[1]
	}
	for _, w := range wantFiles {
		if _, ok := entries[w]; !ok {
			t.Errorf("dpkg-deb -c lacks %s", w)
		}
	}
	if entries["/etc/lbd/lbd.yaml"] != "-rw-rw---- root/lbd" {
		t.Errorf("lbd.yaml entry %q", entries["/etc/lbd/lbd.yaml"])
	}
	info := cmdOut(t, dpkg, "-I", p)
	for _, want := range []string{"Package: lbd", "Version: 1.2.3~rc.1-1", "Architecture: amd64",
		"Maintainer: " + pkgMaint, "Homepage: " + pkgURL, "Section: net", "Recommends: systemd",
		"Description: " + strings.SplitN(pkgDescribe, "\n", 2)[0]} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb -I lacks %q:\n%s", want, info)
		}
	}
	if c := strings.TrimSpace(cmdOut(t, dpkg, "-I", p, "conffiles")); c != "/etc/lbd/lbd.yaml" {
		t.Errorf("conffiles = %q", c)
	}
	for ctl, file := range map[string]string{"preinst": "preinstall.sh", "postinst": "postinstall.sh",
		"prerm": "preremove.sh", "postrm": "postremove.sh"} {
		if got := cmdOut(t, dpkg, "-I", p, ctl); strings.TrimSpace(got) != strings.TrimSpace(readFile(t, filepath.Join(srcDir, "scripts", file))) {
			t.Errorf("%s differs from scripts/%s", ctl, file)
		}
	}
}

func TestReproducible(t *testing.T) {
	bins := fakeBins(t)
	cfg := writeConfig(t, "global: {}\n")
	for _, pk := range []string{"rpm", "deb"} {
		a := readFile(t, buildPkg(t, bins, pkgSpec{packager: pk, version: "1.0.0", config: cfg}))
		// Touch the sources' mtimes: only SOURCE_DATE_EPOCH may matter.
		now := time.Now()
		if err := os.Chtimes(cfg, now, now); err != nil {
			t.Fatal(err)
		}
		b := readFile(t, buildPkg(t, bins, pkgSpec{packager: pk, version: "1.0.0", config: cfg}))
		if a != b {
			t.Errorf("%s: two builds with the same SOURCE_DATE_EPOCH differ", pk)
		}
		c := readFile(t, buildPkg(t, bins, pkgSpec{packager: pk, version: "1.0.0", config: cfg,
			mtime: testMTime.Add(time.Hour)}))
		if a == c {
			t.Errorf("%s: a different SOURCE_DATE_EPOCH gave the same bytes", pk)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	bins := fakeBins(t)
	base := options{Packager: "rpm", Version: "1.0.0", Arch: "amd64", OutDir: t.TempDir(), BinDir: bins,
		SrcDir: srcDir, Config: writeConfig(t, "x: 1\n"), MTime: testMTime, allowNonELF: true}
	for _, tc := range []struct {
		name, want string
		mut        func(*options)
	}{
		{"packager", "unsupported packager", func(o *options) { o.Packager = "apk" }},
		{"version", "invalid version", func(o *options) { o.Version = "" }},
		{"config", "missing.yaml", func(o *options) { o.Config = filepath.Join(t.TempDir(), "missing.yaml") }},
		{"bindir", "make build", func(o *options) { o.BinDir = t.TempDir() }},
		{"no man", "man pages", func(o *options) { o.BinDir = brokenBins(t, "man") }},
		{"no completion", "bash completion", func(o *options) { o.BinDir = brokenBins(t, "completion") }},
	} {
		o := base
		tc.mut(&o)
		if p, err := build(context.Background(), o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %q, %v; want error containing %q", tc.name, p, err, tc.want)
		}
	}
	if ents, _ := os.ReadDir(base.OutDir); len(ents) != 0 {
		t.Errorf("failed builds left %d files in the output dir", len(ents))
	}
}

// brokenBins are stand-ins where the subcommand `broken` fails.
func brokenBins(t *testing.T, broken string) string {
	dir := fakeBins(t)
	for _, b := range []string{"lbd", "lbctl"} {
		p := filepath.Join(dir, b)
		s := strings.Replace(readFile(t, p), "\n"+broken+")", "\n"+broken+") exit 1;;\nnever)", 1)
		if err := os.WriteFile(p, []byte(s), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestRealBinaries packages bin/lbd and bin/lbctl from `make build`.
func TestRealBinaries(t *testing.T) {
	bin := filepath.Join(srcDir, "..", "bin")
	if _, err := os.Stat(filepath.Join(bin, "lbctl")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bin/lbctl missing (CI=true): run make build")
		}
		t.Skip("bin/ not built: run make build")
	}
	p, err := build(context.Background(), options{Packager: "deb", Version: "1.0.0", Arch: "amd64",
		OutDir: t.TempDir(), BinDir: bin, SrcDir: srcDir, Config: writeConfig(t, "x: 1\n"), MTime: testMTime})
	if err != nil {
		t.Fatalf("package real binaries: %v", err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
}
