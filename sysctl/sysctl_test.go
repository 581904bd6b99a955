package sysctl

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// lbdTable is the table lbd's shipped defaults select (what config.Load
// resolves an empty sysctl section to), for maxconn.
func lbdTable(maxconn int) Options {
	return Options{NonlocalBind: true, Forward: true, FileMax: 100000, ConntrackMax: 131072, Maxconn: maxconn}
}

// lowHost is a host with every key below lbd's wants.
func lowHost() map[string]string {
	return map[string]string{
		"net.ipv4.ip_nonlocal_bind":       "0",
		"net.ipv6.ip_nonlocal_bind":       "0",
		"net.ipv4.ip_forward":             "0",
		"fs.file-max":                     "50000",
		"net.netfilter.nf_conntrack_max":  "65536",
		"net.ipv4.tcp_congestion_control": "cubic",
	}
}

func byKey(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		m[r.Key] = r
	}
	return m
}

func TestApplyRaisesEverything(t *testing.T) {
	f := NewFake(lowHost())
	rl := &FakeRlimit{Cur: 1024, Max: 524288}
	rs := Apply(lbdTable(4096), f, rl)

	want := `fs.file-max = 100000
net.ipv4.ip_forward = 1
net.ipv4.ip_nonlocal_bind = 1
net.ipv4.tcp_congestion_control = cubic
net.ipv6.ip_nonlocal_bind = 1
net.netfilter.nf_conntrack_max = 131072
`
	if got := f.String(); got != want {
		t.Errorf("state after Apply:\n%s\nwant:\n%s", got, want)
	}
	wantRes := []Result{
		{Key: "net.ipv4.ip_nonlocal_bind", Old: "0", New: "1", Changed: true},
		{Key: "net.ipv6.ip_nonlocal_bind", Old: "0", New: "1", Changed: true},
		{Key: "net.ipv4.ip_forward", Old: "0", New: "1", Changed: true},
		{Key: "fs.file-max", Old: "50000", New: "100000", Changed: true},
		{Key: "net.netfilter.nf_conntrack_max", Old: "65536", New: "131072", Changed: true},
		{Key: NofileKey, Old: "1024", New: "9216", Changed: true},
	}
	if len(rs) != len(wantRes) {
		t.Fatalf("got %d results %+v, want %d", len(rs), rs, len(wantRes))
	}
	for i := range wantRes {
		if rs[i] != wantRes[i] {
			t.Errorf("result %d = %+v, want %+v", i, rs[i], wantRes[i])
		}
	}
	if rl.Cur != 9216 || rl.Max != 524288 {
		t.Errorf("rlimit %d/%d, want 9216/524288", rl.Cur, rl.Max)
	}
}

func TestApplyNeverLowers(t *testing.T) {
	host := lowHost()
	host["fs.file-max"] = "9223372036854775807"
	host["net.netfilter.nf_conntrack_max"] = "262144"
	host["net.ipv4.ip_forward"] = "1"
	f := NewFake(host)
	rl := &FakeRlimit{Cur: 1 << 20, Max: 1 << 20}
	rs := byKey(Apply(lbdTable(4096), f, rl))

	for _, k := range []string{"fs.file-max", "net.netfilter.nf_conntrack_max", "net.ipv4.ip_forward", NofileKey} {
		r := rs[k]
		if r.Changed || r.Old != r.New || r.Warning != "" {
			t.Errorf("%s: %+v, want unchanged without warning", k, r)
		}
	}
	for _, w := range f.Writes() {
		if strings.HasPrefix(w, "fs.file-max") || strings.HasPrefix(w, "net.netfilter") || strings.HasPrefix(w, "net.ipv4.ip_forward") {
			t.Errorf("unexpected write %q", w)
		}
	}
	if v, _ := f.Get("fs.file-max"); v != "9223372036854775807" {
		t.Errorf("fs.file-max = %s: lowered", v)
	}
	if rl.Cur != 1<<20 {
		t.Errorf("RLIMIT_NOFILE lowered to %d", rl.Cur)
	}
}

func TestApplyFileMaxFollowsMaxconn(t *testing.T) {
	f := NewFake(lowHost())
	rs := byKey(Apply(lbdTable(200000), f, nil))
	if got := rs["fs.file-max"].New; got != strconv.FormatUint(NofileFor(200000), 10) {
		t.Errorf("fs.file-max -> %s, want %d (2*maxconn+slack)", got, NofileFor(200000))
	}
	if _, ok := rs[NofileKey]; ok {
		t.Errorf("nil Rlimit still produced an RLIMIT_NOFILE result")
	}
}

func TestApplyConntrackFallbackAndMissing(t *testing.T) {
	old := lowHost()
	delete(old, "net.netfilter.nf_conntrack_max")
	old["net.ipv4.netfilter.ip_conntrack_max"] = "1000"
	f := NewFake(old)
	rs := byKey(Apply(lbdTable(0), f, nil))
	r, ok := rs["net.ipv4.netfilter.ip_conntrack_max"]
	if !ok || !r.Changed || r.New != "131072" || r.Warning != "" {
		t.Errorf("old-kernel fallback: %+v (present %v)", r, ok)
	}

	none := lowHost()
	delete(none, "net.netfilter.nf_conntrack_max")
	delete(none, "net.ipv6.ip_nonlocal_bind")
	f = NewFake(none)
	rs = byKey(Apply(lbdTable(0), f, nil))
	r = rs["net.netfilter.nf_conntrack_max"]
	if r.Changed || !strings.Contains(r.Warning, "net.netfilter.nf_conntrack_max") || !strings.Contains(r.Warning, "not present") {
		t.Errorf("missing conntrack: %+v, want a warning naming the key", r)
	}
	if r := rs["net.ipv6.ip_nonlocal_bind"]; !strings.Contains(r.Warning, "net.ipv6.ip_nonlocal_bind") {
		t.Errorf("missing ipv6 key: %+v", r)
	}
	// The rest is still applied.
	if v, _ := f.Get("net.ipv4.ip_forward"); v != "1" {
		t.Errorf("ip_forward = %s after a missing key, want 1", v)
	}
}

func TestApplyReadOnly(t *testing.T) {
	f := NewFake(lowHost())
	f.SetReadOnly("fs.file-max")
	rs := byKey(Apply(lbdTable(0), f, nil))
	r := rs["fs.file-max"]
	if r.Changed || r.New != "50000" || !strings.Contains(r.Warning, "fs.file-max") || !strings.Contains(r.Warning, "cannot write") {
		t.Errorf("read-only key: %+v", r)
	}
	if v, _ := f.Get("net.ipv4.ip_nonlocal_bind"); v != "1" {
		t.Errorf("other keys not applied after a read-only one")
	}
}

func TestApplyDisabled(t *testing.T) {
	f := NewFake(lowHost())
	rl := &FakeRlimit{Cur: 1024, Max: 4096}
	o := lbdTable(100)
	o.ReadOnly = true
	rs := Apply(o, f, rl)
	if w := f.Writes(); len(w) != 0 {
		t.Errorf("apply: false wrote %q", w)
	}
	if len(rs) != 6 {
		t.Fatalf("got %d results, want 5 keys + rlimit", len(rs))
	}
	for _, r := range rs[:5] {
		if r.Changed || !strings.Contains(r.Warning, "not applied") {
			t.Errorf("%+v: want reported as not applied", r)
		}
	}
	if rl.Cur != NofileFor(100) {
		t.Errorf("RLIMIT_NOFILE not raised with apply: false: %d", rl.Cur)
	}
}

func TestApplyFlagsOff(t *testing.T) {
	f := NewFake(lowHost())
	o := lbdTable(0)
	o.Forward, o.NonlocalBind = false, false
	rs := byKey(Apply(o, f, nil))
	for _, k := range []string{"net.ipv4.ip_forward", "net.ipv4.ip_nonlocal_bind", "net.ipv6.ip_nonlocal_bind"} {
		if _, ok := rs[k]; ok {
			t.Errorf("%s reported although disabled", k)
		}
		if v, _ := f.Get(k); v != "0" {
			t.Errorf("%s = %s, want untouched 0", k, v)
		}
	}
}

func TestApplyReadBackMismatch(t *testing.T) {
	f := &clampState{Fake: NewFake(map[string]string{"fs.file-max": "10"}), clamp: "50"}
	rs := ApplySettings([]Setting{{Key: "fs.file-max", Value: "100", Mode: AtLeast}}, f)
	if r := rs[0]; !r.Changed || r.New != "50" || !strings.Contains(r.Warning, "kernel reports 50") {
		t.Errorf("clamped write: %+v", r)
	}
}

// clampState stores clamp instead of what is written, as a kernel may.
type clampState struct {
	*Fake
	clamp string
}

func (c *clampState) Set(key, _ string) error { return c.Fake.Set(key, c.clamp) }

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		mode      Mode
		value     string
		old, want string
		err       bool
	}{
		{Exact, "1", "1", "", false},
		{Exact, "1", "0", "1", false},
		{AtLeast, "100", "99", "100", false},
		{AtLeast, "100", "100", "", false},
		{AtLeast, "100", "18446744073709551615", "", false},
		{AtLeast, "100", "99999999999999999999999", "", false}, // beyond uint64: high enough
		{AtLeast, "100", "-1", "", false},
		{AtLeast, "100", "4096 8192", "", true},
		{AtLeast, "100", "abc", "", true},
		{AtLeast, "x", "1", "", true},
		{OneOf, "1", "1", "", false},
		{OneOf, "1", "2", "", false},
		{OneOf, "1", "8", "", false},
		{OneOf, "1", "0", "1", false},
		{OneOf, "1", "3", "1", false},
		{OneOf, "1", "junk", "1", false},
	} {
		got, err := decide(Setting{Key: "k", Value: tc.value, Mode: tc.mode, Accept: []string{"2", "8"}}, tc.old)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("decide(%v %s, old %q) = %q, %v; want %q, err %v", tc.mode, tc.value, tc.old, got, err, tc.want, tc.err)
		}
	}
}

func FuzzDecide(f *testing.F) {
	f.Add("100", "50")
	f.Add("100", "9223372036854775807")
	f.Add("1", " 7\n")
	f.Fuzz(func(t *testing.T, min, old string) {
		got, err := decide(Setting{Key: "k", Value: min, Mode: AtLeast}, old)
		if err != nil || got == "" {
			return
		}
		// Whatever is written must be the minimum and above the old value.
		n, perr := strconv.ParseUint(got, 10, 64)
		o, oerr := strconv.ParseUint(strings.TrimSpace(old), 10, 64)
		if got != min || perr != nil || oerr != nil || n <= o {
			t.Fatalf("decide(min %q, old %q) = %q: would not raise", min, old, got)
		}
	})
}

func TestRaiseNofile(t *testing.T) {
	rl := &FakeRlimit{Cur: 1024, Max: 4096}
	r := RaiseNofile(10000, rl)
	if !r.Changed || r.New != "4096" || !strings.Contains(r.Warning, "hard limit 4096") {
		t.Errorf("unprivileged raise: %+v", r)
	}
	rl = &FakeRlimit{Cur: 1024, Max: 4096, Privileged: true}
	if r := RaiseNofile(10000, rl); !r.Changed || r.New != "10000" || rl.Max != 10000 || r.Warning != "" {
		t.Errorf("privileged raise: %+v rl=%d/%d", r, rl.Cur, rl.Max)
	}
	rl = &FakeRlimit{Cur: 4096, Max: 4096}
	if r := RaiseNofile(10000, rl); r.Changed || !strings.Contains(r.Warning, "left at 4096") {
		t.Errorf("at hard limit, unprivileged: %+v", r)
	}
	rl = &FakeRlimit{Cur: 65536, Max: 65536}
	if r := RaiseNofile(1000, rl); r.Changed || r.Warning != "" || rl.Cur != 65536 {
		t.Errorf("never lower: %+v", r)
	}
}

func TestProcProcessRlimitRead(t *testing.T) {
	cur, max, err := ProcessRlimit{}.Nofile()
	if err != nil || cur == 0 || cur > max {
		t.Errorf("ProcessRlimit.Nofile() = %d, %d, %v", cur, max, err)
	}
}

func TestProcPath(t *testing.T) {
	p := Proc{Root: "/r"}
	for key, want := range map[string]string{
		"net.ipv4.ip_forward":                    "/r/net/ipv4/ip_forward",
		"net.ipv4.conf.eth0/100.arp_ignore":      "/r/net/ipv4/conf/eth0.100/arp_ignore",
		"fs.file-max":                            "/r/fs/file-max",
		"net.netfilter.nf_conntrack_max":         "/r/net/netfilter/nf_conntrack_max",
		"net.ipv4.neigh.default.gc_thresh1":      "/r/net/ipv4/neigh/default/gc_thresh1",
		"net.ipv6.conf.all.disable_ipv6":         "/r/net/ipv6/conf/all/disable_ipv6",
		"kernel.core_pattern":                    "/r/kernel/core_pattern",
		"net.ipv4.conf.lab0.promote_secondaries": "/r/net/ipv4/conf/lab0/promote_secondaries",
	} {
		if got, err := p.Path(key); err != nil || got != want {
			t.Errorf("Path(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
	for _, bad := range []string{"", "net..ipv4", ".net", "net.", "net.//.x", "net./..x", "a\x00b", strings.Repeat("a.", 300)} {
		if got, err := p.Path(bad); err == nil {
			t.Errorf("Path(%q) = %q, want an error", bad, got)
		}
	}
}

func TestProcTempDir(t *testing.T) {
	root := t.TempDir()
	for k, v := range lowHost() {
		path, _ := Proc{Root: root}.Path(k)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st := Proc{Root: root}
	if v, err := st.Get("net.ipv4.ip_forward"); err != nil || v != "0" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if _, err := st.Get("net.core.nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get missing: %v, want ErrNotFound", err)
	}
	if err := st.Set("net.core.nope", "1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Set missing: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(root, "net/core/nope")); err == nil {
		t.Errorf("Set created a missing key")
	}

	rs := byKey(Apply(lbdTable(0), st, nil))
	for k, want := range map[string]string{
		"net.ipv4.ip_nonlocal_bind":      "1",
		"fs.file-max":                    "100000",
		"net.netfilter.nf_conntrack_max": "131072",
	} {
		b, err := os.ReadFile(filepath.Join(root, strings.ReplaceAll(k, ".", "/")))
		if err != nil || string(b) != want+"\n" {
			t.Errorf("%s file = %q, %v; want %q", k, b, err, want+"\n")
		}
		if r := rs[k]; !r.Changed || r.New != want {
			t.Errorf("%s result %+v", k, r)
		}
	}
}

func TestFormatAndLog(t *testing.T) {
	rs := []Result{
		{Key: "net.ipv4.ip_forward", Old: "0", New: "1", Changed: true},
		{Key: "net.netfilter.nf_conntrack_max", Warning: "net.netfilter.nf_conntrack_max: not present"},
	}
	want := "net.ipv4.ip_forward             0 -> 1  (changed)\n" +
		"net.netfilter.nf_conntrack_max  - -> -  (unchanged)  warning: net.netfilter.nf_conntrack_max: not present\n"
	if got := Format(rs); got != want {
		t.Errorf("Format:\n%q\nwant\n%q", got, want)
	}
	var buf bytes.Buffer
	Log(slog.New(slog.NewTextHandler(&buf, nil)), rs)
	out := buf.String()
	if !strings.Contains(out, "level=INFO msg=sysctl key=net.ipv4.ip_forward old=0 new=1 changed=true") ||
		!strings.Contains(out, "level=WARN") {
		t.Errorf("Log output:\n%s", out)
	}
}

func TestFakeString(t *testing.T) {
	f := NewFake(map[string]string{"b.x": "2", "a.y": "1"})
	if err := f.Set("a.y", "3"); err != nil {
		t.Fatal(err)
	}
	if got := f.String(); got != "a.y = 3\nb.x = 2\n" {
		t.Errorf("String = %q", got)
	}
	if w := f.Writes(); len(w) != 1 || w[0] != "a.y = 3" {
		t.Errorf("Writes = %q", w)
	}
}

func TestSettingsZeroOptions(t *testing.T) {
	// The zero Options: no flags, no conntrack row, fs.file-max only as
	// high as the descriptors of NofileFor(0).
	s := Settings(Options{})
	if len(s) != 1 || s[0].Key != "fs.file-max" || s[0].Value != strconv.FormatUint(NofileFor(0), 10) {
		t.Errorf("Settings(Options{}) = %+v, want the fs.file-max floor only", s)
	}
}

// The ARP rows for VIPs on a loopback/dummy device (bgp): set to the
// recommended values from the defaults, a stricter arp_ignore an operator
// chose is kept, a looser one (3 still answers for global addresses on lo)
// is replaced, and without LoopbackVIP the keys are not touched.
func TestApplyLoopbackVIPARP(t *testing.T) {
	for _, tc := range []struct {
		ignore, announce         string
		wantIgnore, wantAnnounce string
		writes                   int
	}{
		{"0", "0", "1", "2", 2}, // kernel defaults
		{"1", "2", "1", "2", 0}, // already set
		{"2", "2", "2", "2", 0}, // stricter arp_ignore kept
		{"8", "1", "8", "2", 1}, // never reply kept; announce 1 -> 2
		{"3", "2", "1", "2", 1}, // 3 answers for the VIP on lo: replaced
	} {
		host := lowHost()
		host["net.ipv4.conf.all.arp_ignore"] = tc.ignore
		host["net.ipv4.conf.all.arp_announce"] = tc.announce
		f := NewFake(host)
		o := Options{LoopbackVIP: true, FileMax: 10}
		rs := byKey(Apply(o, f, nil))
		ig, an := rs["net.ipv4.conf.all.arp_ignore"], rs["net.ipv4.conf.all.arp_announce"]
		if ig.New != tc.wantIgnore || ig.Old != tc.ignore || ig.Changed != (tc.ignore != tc.wantIgnore) || ig.Warning != "" {
			t.Errorf("arp_ignore %s: %+v, want -> %s", tc.ignore, ig, tc.wantIgnore)
		}
		if an.New != tc.wantAnnounce || an.Old != tc.announce || an.Changed != (tc.announce != tc.wantAnnounce) || an.Warning != "" {
			t.Errorf("arp_announce %s: %+v, want -> %s", tc.announce, an, tc.wantAnnounce)
		}
		n := 0
		for _, w := range f.Writes() {
			if strings.HasPrefix(w, "net.ipv4.conf.all.arp_") {
				n++
			}
		}
		if n != tc.writes {
			t.Errorf("arp_ignore %s arp_announce %s: %d writes %q, want %d", tc.ignore, tc.announce, n, f.Writes(), tc.writes)
		}
	}

	// Off (no bgp section): the keys are neither reported nor written.
	f := NewFake(map[string]string{"fs.file-max": "1000000", "net.ipv4.conf.all.arp_ignore": "0", "net.ipv4.conf.all.arp_announce": "0"})
	rs := byKey(Apply(Options{}, f, nil))
	if _, ok := rs["net.ipv4.conf.all.arp_ignore"]; ok || len(f.Writes()) != 0 {
		t.Errorf("LoopbackVIP off: results %+v, writes %q", rs, f.Writes())
	}
	// apply: false reads and reports them without writing.
	f = NewFake(map[string]string{"fs.file-max": "1000000", "net.ipv4.conf.all.arp_ignore": "0", "net.ipv4.conf.all.arp_announce": "0"})
	rs = byKey(Apply(Options{LoopbackVIP: true, ReadOnly: true}, f, nil))
	if r := rs["net.ipv4.conf.all.arp_ignore"]; r.Changed || r.Old != "0" || !strings.Contains(r.Warning, "not applied") || len(f.Writes()) != 0 {
		t.Errorf("read-only: %+v, writes %q", r, f.Writes())
	}
}
