package daemon

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/sysctl"
)

func TestSysctlOptionsFromLoadedConfig(t *testing.T) {
	cfg, err := config.LoadBytes("t.yaml", []byte("global:\n  maxconn: 1000\nsysctl:\n  ip_forward: false\n  file_max: 300000\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := sysctl.Options{NonlocalBind: true, Forward: false, FileMax: 300000, ConntrackMax: config.DefaultConntrackMax, Maxconn: 1000}
	if got := SysctlOptions(cfg); got != want {
		t.Errorf("SysctlOptions = %+v, want %+v", got, want)
	}
}

// A bgp section puts the VIPs on lo (or a dummy device): the ARP rows join
// the table; without one they stay out.
func TestSysctlOptionsBGPSetsARPRows(t *testing.T) {
	const base = "frontends:\n  - name: web\n    bind: [\"*:80\"]\n    default_backend: app\nbackends:\n  - name: app\n    servers:\n      - {name: a1, address: \"127.0.0.1:8080\"}\n"
	const bgp = "bgp:\n  asn: 65001\n  router_id: 10.0.0.11\n  prefixes: [192.0.2.10/32]\n  neighbors:\n    - {address: 10.0.0.1, asn: 65000}\n"
	for _, tc := range []struct {
		text string
		want bool
	}{{base, false}, {base + bgp, true}} {
		cfg, err := config.LoadBytes("t.yaml", []byte(tc.text))
		if err != nil {
			t.Fatal(err)
		}
		o := SysctlOptions(cfg)
		if o.LoopbackVIP != tc.want {
			t.Errorf("bgp section %v: LoopbackVIP = %v", tc.want, o.LoopbackVIP)
		}
		keys := map[string]bool{}
		for _, s := range sysctl.Settings(o) {
			keys[s.Key] = true
		}
		if keys["net.ipv4.conf.all.arp_ignore"] != tc.want || keys["net.ipv4.conf.all.arp_announce"] != tc.want {
			t.Errorf("bgp section %v: table keys %v", tc.want, keys)
		}
	}
}

// With sysctl.apply: false lbd reads and reports the keys (docs/sysctl.md)
// and writes nothing; before the engines owned their options the daemon
// reported only RLIMIT_NOFILE.
func TestSysctlApplyFalseReadsAndReports(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(path, []byte("sysctl:\n  apply: false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fake := sysctl.NewFake(map[string]string{"fs.file-max": "150000", "net.ipv4.ip_forward": "0"})
	d, err := New(Options{ConfigPath: path, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sysctl: fake, Rlimit: &sysctl.FakeRlimit{Cur: 1024, Max: 1 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	rs := d.ApplySysctl()
	if w := fake.Writes(); len(w) != 0 {
		t.Errorf("apply: false wrote %q", w)
	}
	seen := map[string]bool{}
	for _, r := range d.Status().Sysctl {
		seen[r.Key] = true
		if r.Key != sysctl.NofileKey && (r.Changed || r.Warning == "") {
			t.Errorf("%+v: want unchanged with a warning", r)
		}
	}
	if !seen["net.ipv4.ip_forward"] || !seen["fs.file-max"] || !seen[sysctl.NofileKey] || len(rs) != len(seen) {
		t.Errorf("status sysctl keys %v, want the table read back plus RLIMIT_NOFILE", seen)
	}
	if r := rs[len(rs)-1]; r.Key != sysctl.NofileKey || !r.Changed {
		t.Errorf("RLIMIT_NOFILE %+v: want raised", r)
	}
}
