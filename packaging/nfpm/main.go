package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the "deb" packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the "rpm" packager
)

// Package metadata shared by the RPM and the deb.
const (
	pkgName     = "lbd"
	pkgLicense  = "Apache-2.0"
	pkgURL      = "https://github.com/lbd-ha/lbd"
	pkgVendor   = "lbd project"
	pkgMaint    = "lbd maintainers <maintainers@lbd-ha.invalid>"
	pkgSummary  = "HA load balancer daemon: VRRP floating VIP and HTTP/TCP proxy"
	pkgDescribe = `HA load balancer daemon: VRRP floating VIP and HTTP/TCP proxy.
lbd replaces HAProxy plus keepalived on a pair of load-balancer nodes with
one static binary: VRRP (floating VIP via netlink, gratuitous ARP), an
HTTP/TCP proxy with health checks, cookie persistence and statistics, kernel
tuning, and the lbctl console talking to the daemon over a unix socket.`
)

// genTimeout bounds each run of bin/lbd or bin/lbctl that generates docs.
const genTimeout = 30 * time.Second

// options are the command-line inputs of one package build.
type options struct {
	Packager  string    // "rpm" or "deb"
	Version   string    // as given, e.g. `git describe` output
	Release   string    // package release, default "1"
	Arch      string    // Go GOARCH name
	OutDir    string    // where the package is written
	BinDir    string    // holds lbd and lbctl
	SrcDir    string    // the packaging/ directory
	Config    string    // example config shipped as /etc/lbd/lbd.yaml
	BuildHost string    // recorded in the RPM header
	MTime     time.Time // every file's mtime and the build time

	// allowNonELF accepts binaries that are not ELF executables (tests use
	// shell-script stand-ins). Never set from the command line.
	allowNonELF bool
}

func main() {
	path, err := run(os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nfpm:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

// run parses args and builds one package; it returns the package path.
func run(args []string, stderr io.Writer) (string, error) {
	fs := flag.NewFlagSet("nfpm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.Packager, "packager", "rpm", "package format: rpm or deb")
	fs.StringVar(&o.Version, "version", "", "version (semver or `git describe` output)")
	fs.StringVar(&o.Release, "release", "1", "package release")
	fs.StringVar(&o.Arch, "arch", runtime.GOARCH, "target GOARCH (must match the build host: the binaries are run to generate docs)")
	fs.StringVar(&o.OutDir, "out", "dist", "output directory")
	fs.StringVar(&o.BinDir, "bindir", "bin", "directory holding lbd and lbctl")
	fs.StringVar(&o.SrcDir, "src", "packaging", "packaging source directory")
	fs.StringVar(&o.Config, "config", "", "example config for /etc/lbd/lbd.yaml (default SRC/lbd.yaml)")
	fs.StringVar(&o.BuildHost, "buildhost", "reproducible", "build host recorded in the RPM header")
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if fs.NArg() != 0 {
		return "", fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.Config == "" {
		o.Config = filepath.Join(o.SrcDir, "lbd.yaml")
	}
	mt, err := defaultMTime(os.Getenv("SOURCE_DATE_EPOCH"), gitCommitTime)
	if err != nil {
		return "", err
	}
	o.MTime = mt
	return build(context.Background(), o)
}

// defaultMTime is SOURCE_DATE_EPOCH when set, else the last commit's time,
// else now (not reproducible).
func defaultMTime(sde string, commitTime func() (time.Time, error)) (time.Time, error) {
	if sde != "" {
		n, err := strconv.ParseInt(sde, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("invalid SOURCE_DATE_EPOCH %q", sde)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if t, err := commitTime(); err == nil {
		return t, nil
	}
	return time.Now().UTC().Truncate(time.Second), nil
}

func gitCommitTime() (time.Time, error) {
	out, err := exec.Command("git", "log", "-1", "--format=%ct").Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("git log: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse commit time: %w", err)
	}
	return time.Unix(n, 0).UTC(), nil
}

var (
	semverRE   = regexp.MustCompile(`^([0-9]+)\.([0-9]+)\.([0-9]+)(?:-([0-9A-Za-z.-]+))?$`)
	describeRE = regexp.MustCompile(`^(.*?)-([0-9]+)-g([0-9a-f]{4,40})$`)
	plainRE    = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._-]*$`)
)

// pkgVersion is a version split the way RPM and deb want it:
// Version[~Prerelease][+Metadata].
type pkgVersion struct {
	Version, Prerelease, Metadata string
}

func (v pkgVersion) String() string {
	s := v.Version
	if v.Prerelease != "" {
		s += "~" + v.Prerelease
	}
	if v.Metadata != "" {
		s += "+" + v.Metadata
	}
	return s
}

// parseVersion turns a tag or `git describe --tags --dirty --always` output
// into a package version that sorts correctly in rpm and dpkg:
//
//	v1.2.3                  -> 1.2.3
//	v1.2.3-rc.1             -> 1.2.3~rc.1      (before 1.2.3)
//	v1.2.3-4-gabc1234-dirty -> 1.2.3+4.gabc1234.dirty (after 1.2.3)
//	abc1234-dirty, devel    -> 0.0.0~git.abc1234.dirty
func parseVersion(s string) (pkgVersion, error) {
	if s == "" || len(s) > 128 || !plainRE.MatchString(s) {
		return pkgVersion{}, fmt.Errorf("invalid version %q", s)
	}
	s = strings.TrimPrefix(s, "v")
	dirty := strings.HasSuffix(s, "-dirty")
	s = strings.TrimSuffix(s, "-dirty")
	var meta []string
	if m := describeRE.FindStringSubmatch(s); m != nil && semverRE.MatchString(strings.TrimPrefix(m[1], "v")) {
		s = strings.TrimPrefix(m[1], "v")
		meta = append(meta, m[2], "g"+m[3])
	}
	if dirty {
		meta = append(meta, "dirty")
	}
	m := semverRE.FindStringSubmatch(s)
	if m == nil {
		// No usable tag: an untagged commit hash or a word like "devel".
		return pkgVersion{Version: "0.0.0", Prerelease: "git." + dotted(s) + suffix(meta)}, nil
	}
	return pkgVersion{
		Version:    m[1] + "." + m[2] + "." + m[3],
		Prerelease: dotted(m[4]),
		Metadata:   strings.Join(meta, "."),
	}, nil
}

func dotted(s string) string { return strings.NewReplacer("-", ".", "_", ".").Replace(s) }

func suffix(meta []string) string {
	if len(meta) == 0 {
		return ""
	}
	return "." + strings.Join(meta, ".")
}

// generated holds the docs produced by running the binaries.
type generated struct {
	Completions map[string]string // command name -> file
	ManPages    []string          // gzipped pages, e.g. DIR/lbd-run.1.gz
}

// build makes one package in o.OutDir and returns its path.
func build(ctx context.Context, o options) (string, error) {
	if o.Packager != "rpm" && o.Packager != "deb" {
		return "", fmt.Errorf("unsupported packager %q (want rpm or deb)", o.Packager)
	}
	ver, err := parseVersion(o.Version)
	if err != nil {
		return "", err
	}
	for _, b := range []string{"lbd", "lbctl"} {
		if err := checkBinary(filepath.Join(o.BinDir, b), o.Arch, o.allowNonELF); err != nil {
			return "", err
		}
	}
	for _, f := range append(sourceFiles(o.SrcDir), o.Config) {
		if _, err := os.Stat(f); err != nil {
			return "", fmt.Errorf("package source: %w", err)
		}
	}
	tmp, err := os.MkdirTemp("", "lbd-pkg-")
	if err != nil {
		return "", fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	gen, err := generate(ctx, o.BinDir, tmp, o.MTime)
	if err != nil {
		return "", err
	}

	info := packageInfo(o, ver, gen)
	info = nfpm.WithDefaults(info)
	if err := nfpm.Validate(info); err != nil {
		return "", fmt.Errorf("validate package: %w", err)
	}
	pkgr, err := nfpm.Get(o.Packager)
	if err != nil {
		return "", fmt.Errorf("packager: %w", err)
	}
	name := pkgr.ConventionalFileName(info)
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return "", fmt.Errorf("output dir: %w", err)
	}
	f, err := os.CreateTemp(o.OutDir, ".tmp-"+name)
	if err != nil {
		return "", fmt.Errorf("create package: %w", err)
	}
	defer os.Remove(f.Name())
	if err := pkgr.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("build %s: %w", o.Packager, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("write package: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return "", fmt.Errorf("chmod package: %w", err)
	}
	dst := filepath.Join(o.OutDir, name)
	if err := os.Rename(f.Name(), dst); err != nil {
		return "", fmt.Errorf("move package: %w", err)
	}
	return dst, nil
}

// sourceFiles lists the files under packaging/ that every package needs.
func sourceFiles(src string) []string {
	names := []string{
		"lbd.service", "lbd.sysusers", "60-lbd.conf", "rsyslog-lbd.conf", "logrotate-lbd",
		"scripts/preinstall.sh", "scripts/postinstall.sh", "scripts/preremove.sh", "scripts/postremove.sh",
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(src, n)
	}
	return out
}

// packageInfo assembles the nFPM description of the package. It touches no
// files; build checks that the sources exist.
func packageInfo(o options, v pkgVersion, gen generated) *nfpm.Info {
	src := func(n string) string { return filepath.Join(o.SrcDir, n) }
	mode := func(m os.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Mode: m, Owner: "root", Group: "root"}
	}
	docType := ""
	if o.Packager == "rpm" {
		docType = files.TypeRPMDoc
	}
	contents := files.Contents{
		{Source: filepath.Join(o.BinDir, "lbd"), Destination: "/usr/bin/lbd", FileInfo: mode(0o755)},
		{Source: filepath.Join(o.BinDir, "lbctl"), Destination: "/usr/bin/lbctl", FileInfo: mode(0o755)},
		// Group-writable: a node receiving the pair's config push writes
		// lbd.yaml (and lbd.yaml.prev) as user lbd (docs/pair.md).
		{Destination: "/etc/lbd", Type: files.TypeDir,
			FileInfo: &files.ContentFileInfo{Mode: 0o770, Owner: "root", Group: "lbd"}},
		{Source: o.Config, Destination: "/etc/lbd/lbd.yaml", Type: files.TypeConfigNoReplace,
			FileInfo: &files.ContentFileInfo{Mode: 0o660, Owner: "root", Group: "lbd"}},
		{Source: src("lbd.service"), Destination: "/usr/lib/systemd/system/lbd.service", FileInfo: mode(0o644)},
		{Source: src("lbd.sysusers"), Destination: "/usr/lib/sysusers.d/lbd.conf", FileInfo: mode(0o644)},
		{Source: src("60-lbd.conf"), Destination: "/usr/lib/sysctl.d/60-lbd.conf", FileInfo: mode(0o644)},
		{Destination: "/usr/share/doc/lbd", Type: files.TypeDir, FileInfo: mode(0o755)},
		{Source: src("rsyslog-lbd.conf"), Destination: "/usr/share/doc/lbd/rsyslog-lbd.conf", Type: docType, FileInfo: mode(0o644)},
		{Source: src("logrotate-lbd"), Destination: "/usr/share/doc/lbd/logrotate-lbd", Type: docType, FileInfo: mode(0o644)},
	}
	cmds := make([]string, 0, len(gen.Completions))
	for c := range gen.Completions {
		cmds = append(cmds, c)
	}
	sort.Strings(cmds)
	for _, c := range cmds {
		contents = append(contents, &files.Content{Source: gen.Completions[c],
			Destination: "/usr/share/bash-completion/completions/" + c, FileInfo: mode(0o644)})
	}
	for _, p := range gen.ManPages {
		base := filepath.Base(p)                                  // lbd-run.1.gz
		section := strings.TrimSuffix(base, ".gz")                // lbd-run.1
		section = section[strings.LastIndexByte(section, '.')+1:] // 1
		contents = append(contents, &files.Content{Source: p,
			Destination: "/usr/share/man/man" + section + "/" + base, Type: docType, FileInfo: mode(0o644)})
	}

	info := &nfpm.Info{
		Name:            pkgName,
		Arch:            o.Arch,
		Platform:        "linux",
		Version:         v.Version,
		VersionSchema:   "none",
		Prerelease:      v.Prerelease,
		VersionMetadata: v.Metadata,
		Release:         o.Release,
		Section:         "net",
		Priority:        "optional",
		Maintainer:      pkgMaint,
		Description:     pkgDescribe,
		Vendor:          pkgVendor,
		Homepage:        pkgURL,
		License:         pkgLicense,
		MTime:           o.MTime,
		Overridables: nfpm.Overridables{
			Contents: contents,
			Umask:    0o022,
			Scripts: nfpm.Scripts{
				PreInstall:  src("scripts/preinstall.sh"),
				PostInstall: src("scripts/postinstall.sh"),
				PreRemove:   src("scripts/preremove.sh"),
				PostRemove:  src("scripts/postremove.sh"),
			},
			RPM: nfpm.RPM{
				Summary:     pkgSummary,
				Group:       "System Environment/Daemons",
				Compression: "xz",
				BuildHost:   o.BuildHost,
				Packager:    pkgMaint,
			},
		},
	}
	if o.Packager == "rpm" {
		// useradd/groupadd for the %pre fallback; systemctl for the scriptlets.
		info.Depends = []string{"systemd", "shadow-utils"}
	} else {
		info.Recommends = []string{"systemd"}
	}
	return info
}

// checkBinary refuses a missing, dynamically linked or wrong-architecture
// binary: the package promises static CGO_ENABLED=0 builds.
func checkBinary(path, goarch string, allowNonELF bool) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("binary: %w (run `make build`)", err)
	}
	if st.Mode()&0o111 == 0 {
		return fmt.Errorf("binary %s is not executable", path)
	}
	f, err := elf.Open(path)
	if err != nil {
		if allowNonELF {
			return nil
		}
		return fmt.Errorf("binary %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("binary %s is dynamically linked; build with CGO_ENABLED=0", path)
		}
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386,
		"arm": elf.EM_ARM, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV}
	if m, ok := want[goarch]; ok && f.Machine != m {
		return fmt.Errorf("binary %s is for %s, not %s", path, f.Machine, goarch)
	}
	return nil
}

var manPageRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*\.[1-9]$`)

// generate runs the binaries to produce bash completion and man pages into
// dir. SOURCE_DATE_EPOCH is passed on so the man page dates are reproducible.
func generate(ctx context.Context, binDir, dir string, mtime time.Time) (generated, error) {
	g := generated{Completions: map[string]string{}}
	env := append(os.Environ(), "LC_ALL=C", "SOURCE_DATE_EPOCH="+strconv.FormatInt(mtime.Unix(), 10))
	runBin := func(name string, args ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(ctx, genTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(binDir, name), args...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		return stdout.Bytes(), nil
	}

	compDir := filepath.Join(dir, "completions")
	rawMan := filepath.Join(dir, "man-raw")
	manDir := filepath.Join(dir, "man")
	for _, d := range []string{compDir, rawMan, manDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return g, fmt.Errorf("generate: %w", err)
		}
	}
	for _, name := range []string{"lbd", "lbctl"} {
		out, err := runBin(name, "completion", "bash")
		if err != nil {
			return g, fmt.Errorf("bash completion: %w", err)
		}
		if !bytes.Contains(out, []byte("complete")) {
			return g, fmt.Errorf("bash completion: %s completion bash printed no completion script", name)
		}
		p := filepath.Join(compDir, name)
		if err := os.WriteFile(p, out, 0o644); err != nil {
			return g, fmt.Errorf("bash completion: %w", err)
		}
		g.Completions[name] = p
		if _, err := runBin(name, "man", rawMan); err != nil {
			return g, fmt.Errorf("man pages: %w", err)
		}
	}
	ents, err := os.ReadDir(rawMan)
	if err != nil {
		return g, fmt.Errorf("man pages: %w", err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !manPageRE.MatchString(e.Name()) {
			continue
		}
		dst := filepath.Join(manDir, e.Name()+".gz")
		if err := gzipFile(filepath.Join(rawMan, e.Name()), dst); err != nil {
			return g, fmt.Errorf("man pages: %w", err)
		}
		g.ManPages = append(g.ManPages, dst)
	}
	for _, want := range []string{"lbd", "lbctl"} {
		if !hasManPage(g.ManPages, want) {
			return g, fmt.Errorf("man pages: %s man wrote no %s.N page", want, want)
		}
	}
	return g, nil
}

func hasManPage(pages []string, cmd string) bool {
	for _, p := range pages {
		b := strings.TrimSuffix(filepath.Base(p), ".gz")
		if strings.TrimSuffix(b, filepath.Ext(b)) == cmd {
			return true
		}
	}
	return false
}

// gzipFile compresses src into dst with no name or time in the gzip header,
// so the output depends on the content only.
func gzipFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}
