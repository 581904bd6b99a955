package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/internal/control"
)

// TestRenderTablePeer: a value with a part from the pair peer shows as
// SUM(+PEER); the header counts the updates.
func TestRenderTablePeer(t *testing.T) {
	var b bytes.Buffer
	renderTable(&b, &control.TableShow{Name: "www", Size: 100, Used: 2, PeerSent: 7, PeerReceived: 9, Entries: []control.TableEntry{
		{Key: "192.0.2.1", ExpireMS: 1000, Counters: map[string]uint64{"conn_cur": 1, "http_req_rate": 42}, Peer: map[string]uint64{"http_req_rate": 30}},
		{Key: "192.0.2.2", ExpireMS: 1000, Counters: map[string]uint64{"conn_cur": 0, "http_req_rate": 3}},
	}})
	out := b.String()
	for _, want := range []string{"peer sent: 7, peer received: 9", "42(+30)", "192.0.2.2"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "3(+") || strings.Contains(out, "1(+") {
		t.Errorf("a local-only value marked as the peer's:\n%s", out)
	}
}
