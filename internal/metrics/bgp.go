package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbd-ha/lbd/internal/control"
)

// bgpDescs are the lbd_bgp_* metrics (absent without a bgp section).
type bgpDescs struct {
	announced, changes, up, uptime, flaps, notif, updates *prometheus.Desc
}

func newBGPDescs() *bgpDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("lbd_bgp_"+name, help, labels, nil)
	}
	nb := []string{"neighbor"}
	return &bgpDescs{
		announced: d("announced", "1 while this node announces its BGP prefixes.", "prefix"),
		changes:   d("changes_total", "Announce and withdraw transitions."),
		up:        d("neighbor_up", "1 while the BGP session is established.", nb...),
		uptime:    d("neighbor_established_timestamp_seconds", "Unix time the session was established; absent while down.", nb...),
		flaps:     d("neighbor_flaps_total", "Established sessions that went down.", nb...),
		notif:     d("neighbor_notifications_total", "NOTIFICATION messages (refused OPENs, malformed updates, ...) by direction.", "neighbor", "direction"),
		updates:   d("neighbor_updates_total", "UPDATE messages by direction.", "neighbor", "direction"),
	}
}

func (c *bgpDescs) describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.announced, c.changes, c.up, c.uptime, c.flaps, c.notif, c.updates} {
		ch <- d
	}
}

func (c *bgpDescs) collect(ch chan<- prometheus.Metric, st *control.Status) {
	b := st.BGP
	if b == nil {
		return
	}
	g := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	n := func(d *prometheus.Desc, v uint64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), lv...)
	}
	for _, p := range b.Prefixes {
		g(c.announced, b2f(b.Announced), p)
	}
	n(c.changes, b.Changes)
	for _, nb := range b.Neighbors {
		up := nb.State == "established"
		g(c.up, b2f(up), nb.Address)
		if up && !nb.Since.IsZero() {
			g(c.uptime, float64(nb.Since.UnixNano())/1e9, nb.Address)
		}
		n(c.flaps, uint64(nb.Flaps), nb.Address)
		n(c.notif, nb.NotificationsIn, nb.Address, "in")
		n(c.notif, nb.NotificationsOut, nb.Address, "out")
		n(c.updates, nb.UpdatesIn, nb.Address, "in")
		n(c.updates, nb.UpdatesOut, nb.Address, "out")
	}
}
