package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbd-ha/lbd/internal/control"
)

// ACME metrics (docs/tls.md); absent without a tls.acme section.
var (
	acmeNotAfter = prometheus.NewDesc("lbd_acme_certificate_not_after_timestamp_seconds",
		"Unix time the ACME certificate on disk expires (alert well before: renewal starts at a third of its lifetime left).", []string{"name"}, nil)
	acmeFailing = prometheus.NewDesc("lbd_acme_certificate_failing",
		"1 while the order or renewal of this certificate fails (the current certificate keeps serving; retried with backoff).", []string{"name"}, nil)
	acmePeerBehind = prometheus.NewDesc("lbd_acme_peer_behind",
		"1 while an ACME store write has not reached the peer (pair link down); it is sent when the link returns.", nil, nil)
)

type acmeCollector struct {
	source func() (*control.ACMEStatus, error)
}

// ACME exports the ACME certificates' expiry and failure state.
func ACME(source func() (*control.ACMEStatus, error)) prometheus.Collector {
	return acmeCollector{source}
}

func (acmeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- acmeNotAfter
	ch <- acmeFailing
	ch <- acmePeerBehind
}

func (c acmeCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.source()
	if err != nil || st == nil {
		return
	}
	g := func(d *prometheus.Desc, v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	for _, cert := range st.Certificates {
		if !cert.NotAfter.IsZero() {
			g(acmeNotAfter, float64(cert.NotAfter.Unix()), cert.Name)
		}
		g(acmeFailing, b2f(cert.State == "failing"), cert.Name)
	}
	g(acmePeerBehind, b2f(st.PeerBehind))
}
