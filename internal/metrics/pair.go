package metrics

import (
	"sort"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbd-ha/lbd/internal/control"
)

// Pair link metrics (docs/pair.md); absent without a pair section.
var (
	pairUp = prometheus.NewDesc("lbd_pair_link_up",
		"1 if the pair link has heard from the peer within two intervals.", nil, nil)
	pairInSync = prometheus.NewDesc("lbd_pair_config_in_sync",
		"1 if the shared parts (node-local keys left out) of this node's config file and the peer's have the same SHA-256.", nil, nil)
	pairSkew = prometheus.NewDesc("lbd_pair_version_skew",
		"1 if the peer runs another lbd version.", nil, nil)
	pairSplit = prometheus.NewDesc("lbd_pair_split_brain",
		"1 while both nodes are MASTER for this VRID with the link up.", []string{"vrid"}, nil)
	pairSplitTotal = prometheus.NewDesc("lbd_pair_split_brains_total",
		"Split brains detected (both nodes MASTER for one VRID while the link is up).", nil, nil)
	pairRefused = prometheus.NewDesc("lbd_pair_refused_total",
		"Pair link connections and messages refused, by reason.", []string{"reason"}, nil)
	pairLastContact = prometheus.NewDesc("lbd_pair_last_contact_timestamp_seconds",
		"Unix time of the last authenticated message from the peer.", nil, nil)
)

func describePair(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{pairUp, pairInSync, pairSkew, pairSplit, pairSplitTotal, pairRefused, pairLastContact} {
		ch <- d
	}
}

func collectPair(ch chan<- prometheus.Metric, st *control.Status) {
	p := st.Pair
	if p == nil {
		return
	}
	g := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	g(pairUp, b2f(p.Link == "up"))
	if p.PeerConfigHash != "" {
		g(pairInSync, b2f(p.ConfigInSync))
	}
	if p.PeerVersion != "" {
		g(pairSkew, b2f(p.VersionSkew))
	}
	seen := map[int]bool{}
	for _, sb := range p.SplitBrain {
		if !seen[sb.VRID] {
			seen[sb.VRID] = true
			g(pairSplit, 1, strconv.Itoa(sb.VRID))
		}
	}
	ch <- prometheus.MustNewConstMetric(pairSplitTotal, prometheus.CounterValue, float64(p.SplitBrainTotal))
	reasons := make([]string, 0, len(p.Refused))
	for r := range p.Refused {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		ch <- prometheus.MustNewConstMetric(pairRefused, prometheus.CounterValue, float64(p.Refused[r]), r)
	}
	if !p.LastContact.IsZero() {
		g(pairLastContact, float64(p.LastContact.UnixNano())/1e9)
	}
}
