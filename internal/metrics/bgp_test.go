package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lbd-ha/lbd/bgp"
	"github.com/lbd-ha/lbd/internal/control"
)

func TestBGPMetrics(t *testing.T) {
	src := func() control.Status {
		return control.Status{BGP: &bgp.Status{Announced: true, Prefixes: []string{"203.0.113.10/32"}, Changes: 3,
			Neighbors: []bgp.NeighborStatus{{Address: "192.0.2.1", State: "established", Since: time.Unix(1700000000, 0), NotificationsIn: 2, UpdatesOut: 5}}}}
	}
	c := NewCollector(src)
	want := `# HELP lbd_bgp_announced 1 while this node announces its BGP prefixes.
# TYPE lbd_bgp_announced gauge
lbd_bgp_announced{prefix="203.0.113.10/32"} 1
# HELP lbd_bgp_neighbor_notifications_total NOTIFICATION messages (refused OPENs, malformed updates, ...) by direction.
# TYPE lbd_bgp_neighbor_notifications_total counter
lbd_bgp_neighbor_notifications_total{direction="in",neighbor="192.0.2.1"} 2
lbd_bgp_neighbor_notifications_total{direction="out",neighbor="192.0.2.1"} 0
# HELP lbd_bgp_neighbor_up 1 while the BGP session is established.
# TYPE lbd_bgp_neighbor_up gauge
lbd_bgp_neighbor_up{neighbor="192.0.2.1"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "lbd_bgp_announced", "lbd_bgp_neighbor_up", "lbd_bgp_neighbor_notifications_total"); err != nil {
		t.Fatal(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	if n := testutil.CollectAndCount(NewCollector(func() control.Status { return control.Status{} }), "lbd_bgp_announced", "lbd_bgp_neighbor_up"); n != 0 {
		t.Fatalf("%d metrics without bgp", n)
	}
}
