package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/bgp"
	"github.com/lbd-ha/lbd/internal/control"
)

func TestRenderBGP(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	st := &control.Status{BGP: &bgp.Status{
		ASN: 65001, RouterID: "192.0.2.12", Prefixes: []string{"203.0.113.10/32"},
		Reason: "backend app has no usable server",
		Neighbors: []bgp.NeighborStatus{
			{Address: "192.0.2.1", ASN: 65000, State: "established", Since: now.Add(-90 * time.Second), UpdatesOut: 3},
			{Address: "192.0.2.2", ASN: 65000, State: "active", NotificationsIn: 2, LastDown: "bad peer AS"},
		},
	}}
	var b bytes.Buffer
	renderBGP(&b, st, false, now)
	out := b.String()
	for _, want := range []string{"AS 65001", "WITHDRAWN 203.0.113.10/32 (backend app has no usable server)", "established", "1m30s", "bad peer AS", "2/0"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	b.Reset()
	renderBGP(&b, &control.Status{}, false, now)
	if b.Len() != 0 {
		t.Errorf("no bgp section expected without bgp: %q", b.String())
	}
}
