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
