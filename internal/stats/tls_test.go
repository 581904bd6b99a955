package stats

import (
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
)

func TestHTMLTLSLine(t *testing.T) {
	src := func() control.Status {
		st := sampleStatus()
		st.Frontends[0].TLSHandshakes = 12
		st.Frontends[0].TLSFailures = map[string]uint64{"timeout": 1, "protocol_version": 3, "other": 0}
		return st
	}
	h := newHandler(config.Stats{Enable: true}, src, func() time.Time { return testNow })
	body := get(h, "/lbd?stats", nil).Body.String()
	if !strings.Contains(body, `<p class="tls">TLS handshakes: 12; failed: timeout 1, protocol_version 3</p>`) {
		t.Errorf("page lacks the TLS line")
	}
	if TLSFailures(map[string]uint64{}) != "none" {
		t.Error("no failures should read none")
	}
}

// TestHTMLServerTLSLine: a backend with TLS servers gets a line with each
// one's handshakes and failures; the CSV keeps HAProxy's columns.
func TestHTMLServerTLSLine(t *testing.T) {
	src := func() control.Status {
		st := sampleStatus()
		sv := st.Backends[0].Servers
		sv[0].TLS, sv[0].TLSHandshakes, sv[0].TLSFailures = true, 40, 2
		sv[0].TLSFailureReasons = map[string]uint64{"refused": 1, "bad_server_cert": 1, "timeout": 0}
		sv[1].TLS = true
		return st
	}
	h := newHandler(config.Stats{Enable: true}, src, func() time.Time { return testNow })
	body := get(h, "/lbd?stats", nil).Body.String()
	if !strings.Contains(body, `<p class="tls" data-tls="servers">TLS to servers: web01 40 handshakes, 2 failed (bad_server_cert 1, refused 1); web02 0 handshakes, 0 failed</p>`) {
		t.Errorf("page lacks the server TLS line")
	}
	plain := get(newHandler(config.Stats{Enable: true}, sampleStatus, func() time.Time { return testNow }), "/lbd?stats", nil).Body.String()
	if strings.Contains(plain, "TLS to servers") {
		t.Error("server TLS line without TLS servers")
	}
	csv := get(h, "/lbd?stats;csv", nil).Body.String()
	if head := strings.SplitN(csv, "\n", 2)[0]; head != "# "+strings.Join(CSVColumns, ",")+"," {
		t.Errorf("CSV header changed: %s", head)
	}
}
