package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lbd-ha/lbd/certs"
	"github.com/lbd-ha/lbd/internal/control"
)

func TestTLSMetrics(t *testing.T) {
	st := sample()
	st.Frontends[0].TLSHandshakes = 7
	st.Frontends[0].TLSFailures = map[string]uint64{"timeout": 2, "no_shared_cipher": 0}
	st.Certificates = []control.CertStatus{{Frontend: "web", Bind: "*:443", File: "/c/a.pem", Names: []string{"a.example.com"}, NotAfter: t0.Add(24 * time.Hour)}}
	c := NewCollector(func() control.Status { return st })
	want := `
# HELP lbd_tls_certificate_not_after_seconds Unix time a served certificate expires; alert on ` + "`- time() < 14*86400`" + `.
# TYPE lbd_tls_certificate_not_after_seconds gauge
lbd_tls_certificate_not_after_seconds{bind="*:443",file="/c/a.pem",frontend="web",name="a.example.com"} 1.7000864e+09
# HELP lbd_tls_handshakes_total Completed TLS handshakes on the frontend's TLS binds.
# TYPE lbd_tls_handshakes_total counter
lbd_tls_handshakes_total{frontend="web"} 7
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "lbd_tls_certificate_not_after_seconds", "lbd_tls_handshakes_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c, "lbd_tls_handshake_failures_total"); n != len(certs.Reasons) {
		t.Errorf("%d failure series, want one per reason (%d)", n, len(certs.Reasons))
	}
}

func TestServerTLSMetrics(t *testing.T) {
	st := sample()
	sv := &st.Backends[0].Servers[0]
	sv.TLS, sv.TLSHandshakes, sv.TLSFailures = true, 9, 4
	sv.TLSFailureReasons = map[string]uint64{"bad_server_cert": 3, "refused": 1}
	c := NewCollector(func() control.Status { return st })
	lb := `{backend="` + st.Backends[0].Name + `",reason="`
	ls := `",server="` + sv.Name + `"}`
	want := `
# HELP lbd_server_tls_handshake_failures_total Failed TLS handshakes with the server, by reason (bad_server_cert, timeout, refused, other); also counted in lbd_server_connection_errors_total (ssl servers only).
# TYPE lbd_server_tls_handshake_failures_total counter
lbd_server_tls_handshake_failures_total` + lb + `bad_server_cert` + ls + ` 3
lbd_server_tls_handshake_failures_total` + lb + `other` + ls + ` 0
lbd_server_tls_handshake_failures_total` + lb + `refused` + ls + ` 1
lbd_server_tls_handshake_failures_total` + lb + `timeout` + ls + ` 0
# HELP lbd_server_tls_handshakes_total Completed TLS handshakes with the server (ssl servers only).
# TYPE lbd_server_tls_handshakes_total counter
lbd_server_tls_handshakes_total{backend="` + st.Backends[0].Name + `",server="` + sv.Name + `"} 9
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "lbd_server_tls_handshakes_total", "lbd_server_tls_handshake_failures_total"); err != nil {
		t.Error(err)
	}
	// Plain servers have no TLS series.
	st.Backends[0].Servers[0].TLS = false
	if n := testutil.CollectAndCount(c, "lbd_server_tls_handshakes_total", "lbd_server_tls_handshake_failures_total"); n != 0 {
		t.Errorf("%d TLS series for plain servers", n)
	}
}
