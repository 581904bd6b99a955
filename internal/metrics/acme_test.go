package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lbd-ha/lbd/internal/control"
)

func TestACMECollector(t *testing.T) {
	exp := time.Unix(1900000000, 0)
	st := &control.ACMEStatus{PeerBehind: true, Certificates: []control.ACMECert{
		{Name: "a.example.com", State: "valid", NotAfter: exp},
		{Name: "b.example.com", State: "failing"},
	}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(ACME(func() (*control.ACMEStatus, error) { return st, nil }))
	want := `
# HELP lbd_acme_certificate_failing 1 while the order or renewal of this certificate fails (the current certificate keeps serving; retried with backoff).
# TYPE lbd_acme_certificate_failing gauge
lbd_acme_certificate_failing{name="a.example.com"} 0
lbd_acme_certificate_failing{name="b.example.com"} 1
# HELP lbd_acme_peer_behind 1 while an ACME store write has not reached the peer (pair link down); it is sent when the link returns.
# TYPE lbd_acme_peer_behind gauge
lbd_acme_peer_behind 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "lbd_acme_certificate_failing", "lbd_acme_peer_behind"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "lbd_acme_certificate_not_after_timestamp_seconds"); err != nil || n != 1 {
		t.Fatalf("not_after series: %d %v", n, err)
	}
	// Without tls.acme: nothing.
	none := prometheus.NewRegistry()
	none.MustRegister(ACME(func() (*control.ACMEStatus, error) { return nil, errors.New("no tls.acme") }))
	if n, _ := testutil.GatherAndCount(none); n != 0 {
		t.Fatalf("%d series without tls.acme", n)
	}
}
