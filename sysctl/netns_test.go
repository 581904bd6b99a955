package sysctl

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/internal/lab"
)

// netOnly refuses to write anything but per-namespace net.* keys, so a bug
// in a test cannot touch a host-global setting.
type netOnly struct{ State }

func (n netOnly) Set(key, value string) error {
	if !strings.HasPrefix(key, "net.") || strings.HasPrefix(key, "net.netfilter.") || strings.Contains(key, "conntrack") {
		return fmt.Errorf("test guard: refusing to write host-global key %s", key)
	}
	return n.State.Set(key, value)
}

func TestNetnsSysctl(t *testing.T) {
	ns := lab.NewNS(t)
	host := NewState()
	keys := []string{"net.ipv4.ip_forward", "net.ipv4.ip_nonlocal_bind", "net.core.somaxconn"}
	before := map[string]string{}
	for _, k := range keys {
		v, err := host.Get(k)
		if err != nil {
			t.Fatalf("host %s: %v", k, err)
		}
		before[k] = v
	}

	// lbd's own table, minus the host-global keys.
	var table []Setting
	for _, s := range Settings(Options{NonlocalBind: true, Forward: true, Maxconn: 4096}) {
		if strings.HasPrefix(s.Key, "net.ipv4.") {
			table = append(table, s)
		}
	}
	if len(table) != 2 {
		t.Fatalf("expected ip_nonlocal_bind and ip_forward in the table, got %+v", table)
	}

	var first, second []Result
	var somaxconn string
	err := lab.Do(ns, func() error {
		st := netOnly{NewState()}
		for _, k := range []string{"net.ipv4.ip_forward", "net.ipv4.ip_nonlocal_bind"} {
			if err := st.Set(k, "0"); err != nil { // known start inside the namespace
				return err
			}
		}
		var err error
		if somaxconn, err = st.Get("net.core.somaxconn"); err != nil {
			return err
		}
		cur, err := strconv.Atoi(somaxconn)
		if err != nil {
			return err
		}
		raise := append(table,
			Setting{Key: "net.core.somaxconn", Value: strconv.Itoa(cur + 1), Mode: AtLeast},
		)
		first = ApplySettings(raise, st)
		// Second run: everything already there; a lower minimum is a no-op.
		second = ApplySettings(append(table, Setting{Key: "net.core.somaxconn", Value: "1", Mode: AtLeast}), st)
		if err := st.Set("fs.file-max", "1"); err == nil {
			return fmt.Errorf("guard let a write to fs.file-max through")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := strconv.Atoi(somaxconn)
	wantFirst := []Result{
		{Key: "net.ipv4.ip_nonlocal_bind", Old: "0", New: "1", Changed: true},
		{Key: "net.ipv4.ip_forward", Old: "0", New: "1", Changed: true},
		{Key: "net.core.somaxconn", Old: somaxconn, New: strconv.Itoa(cur + 1), Changed: true},
	}
	for i, w := range wantFirst {
		if i >= len(first) || first[i] != w {
			t.Errorf("first apply result %d: got %+v, want %+v", i, first, w)
		}
	}
	for _, r := range second {
		if r.Changed || r.Warning != "" || r.Old != r.New {
			t.Errorf("second apply: %+v, want unchanged", r)
		}
	}
	for _, k := range keys {
		if v, err := host.Get(k); err != nil || v != before[k] {
			t.Errorf("host %s changed: %q -> %q (%v)", k, before[k], v, err)
		}
	}
}

// The ARP rows of a bgp node (LoopbackVIP) against a real kernel, inside a
// namespace the test created: written from a known start, read back, and
// left alone on a second run; the host's keys do not move.
func TestNetnsLoopbackVIPARP(t *testing.T) {
	ns := lab.NewNS(t)
	host := NewState()
	keys := []string{"net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce"}
	before := map[string]string{}
	for _, k := range keys {
		v, err := host.Get(k)
		if err != nil {
			t.Fatalf("host %s: %v", k, err)
		}
		before[k] = v
	}
	var table []Setting
	for _, s := range Settings(Options{LoopbackVIP: true}) {
		if strings.HasPrefix(s.Key, "net.ipv4.conf.all.arp_") {
			table = append(table, s)
		}
	}
	var first, second []Result
	err := lab.Do(ns, func() error {
		st := netOnly{NewState()}
		for _, k := range keys {
			if err := st.Set(k, "0"); err != nil {
				return err
			}
		}
		first = ApplySettings(table, st)
		second = ApplySettings(table, st)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
		{Key: "net.ipv4.conf.all.arp_ignore", Old: "0", New: "1", Changed: true},
		{Key: "net.ipv4.conf.all.arp_announce", Old: "0", New: "2", Changed: true},
	}
	if len(first) != len(want) || first[0] != want[0] || first[1] != want[1] {
		t.Errorf("first apply: %+v, want %+v", first, want)
	}
	for _, r := range second {
		if r.Changed || r.Warning != "" || r.Old != r.New {
			t.Errorf("second apply: %+v, want unchanged", r)
		}
	}
	for _, k := range keys {
		if v, err := host.Get(k); err != nil || v != before[k] {
			t.Errorf("host %s changed: %q -> %q (%v)", k, before[k], v, err)
		}
	}
}
