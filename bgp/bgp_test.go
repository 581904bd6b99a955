package bgp

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func TestShouldAnnounce(t *testing.T) {
	for _, c := range []struct {
		healthy, admin, draining, want bool
	}{
		{true, false, false, true},
		{false, false, false, false},
		{true, true, false, false},
		{true, false, true, false},
		{false, true, true, false},
	} {
		if got := ShouldAnnounce(c.healthy, c.admin, c.draining); got != c.want {
			t.Errorf("ShouldAnnounce(%v,%v,%v) = %v", c.healthy, c.admin, c.draining, got)
		}
	}
}

func TestControllerFollowsTrackingAndAdmin(t *testing.T) {
	vip := netip.MustParsePrefix("192.0.2.10/32")
	f := NewFake()
	c := New(Options{ASN: 65001, RouterID: netip.MustParseAddr("10.0.0.1"), Prefixes: []netip.Prefix{vip}}, f)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, on := f.Snapshot(vip); on {
		t.Fatal("announced before tracking said the node can serve")
	}
	c.SetHealth(true, "")
	c.SetHealth(true, "") // no change: no second update
	if calls, on := f.Snapshot(vip); !on || len(calls) != 1 {
		t.Fatalf("want one announce, got %v (on=%v)", calls, on)
	}
	c.SetHealth(false, "backend app has no usable server")
	if _, on := f.Snapshot(vip); on {
		t.Fatal("still announced with no usable backend")
	}
	if st := c.Status(); st.Announced || st.Reason == "" {
		t.Fatalf("status %+v", st)
	}
	c.SetHealth(true, "")
	c.SetAdminWithdrawn(true)
	if _, on := f.Snapshot(vip); on {
		t.Fatal("announced despite lbctl bgp withdraw")
	}
	c.SetHealth(true, "")
	if _, on := f.Snapshot(vip); on {
		t.Fatal("tracking overrode the admin withdraw")
	}
	c.SetAdminWithdrawn(false)
	if _, on := f.Snapshot(vip); !on {
		t.Fatal("resume did not announce")
	}
	// A failing speaker keeps the old state and retries on the next sample.
	f.SetFail(errors.New("boom"))
	c.SetHealth(false, "frontend web not serving")
	if st := c.Status(); !st.Announced || st.LastError == "" {
		t.Fatalf("status after a failed withdraw: %+v", st)
	}
	f.SetFail(nil)
	c.SetHealth(false, "frontend web not serving")
	if _, on := f.Snapshot(vip); on {
		t.Fatal("withdraw not retried")
	}
	c.SetHealth(true, "")
	if !c.Drain() {
		t.Fatal("Drain should report the route was announced")
	}
	c.SetHealth(true, "")
	c.Stop()
	calls, on := f.Snapshot(vip)
	if on || !f.Stopped {
		t.Fatalf("after stop: on=%v stopped=%v", on, f.Stopped)
	}
	want := []string{"announce 192.0.2.10/32", "withdraw 192.0.2.10/32", "announce 192.0.2.10/32", "withdraw 192.0.2.10/32", "announce 192.0.2.10/32", "withdraw 192.0.2.10/32", "announce 192.0.2.10/32", "withdraw 192.0.2.10/32"}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls\n got %v\nwant %v", calls, want)
	}
}

func TestControllerDetachKeepsRoutes(t *testing.T) {
	vip := netip.MustParsePrefix("192.0.2.10/32")
	f := NewFake()
	c := New(Options{Prefixes: []netip.Prefix{vip}}, f)
	c.SetHealth(true, "")
	c.Detach()
	c.SetHealth(true, "")
	calls, on := f.Snapshot(vip)
	if !on || !slices.Equal(calls, []string{"announce 192.0.2.10/32", "detach"}) {
		t.Fatalf("detach must hand the routes over, not withdraw them: %v (on=%v)", calls, on)
	}
}
