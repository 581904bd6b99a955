package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
)

func TestRenderACME(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	st := &control.ACMEStatus{Node: "n1", Directory: "https://ca.test/dir", PeerBehind: true, Certificates: []control.ACMECert{
		{Name: "a.example.com", State: "valid", NotAfter: now.Add(60 * 24 * time.Hour), Issuer: "Pebble Intermediate"},
		{Name: "b.example.com", State: "failing", FailingSince: now.Add(-time.Hour), LastError: "connection refused\nmore", LockHolder: "n2"},
	}}
	var b bytes.Buffer
	renderACME(&b, st, false, now)
	out := b.String()
	for _, want := range []string{"ACME https://ca.test/dir (node n1)", "pair link down", "a.example.com", "valid", "2027-02-02 12:00 (1440h0m0s)",
		"failing since 2026-12-04 11:00:00", "connection refused", "n2"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "more") {
		t.Errorf("last error not cut to its first line:\n%s", out)
	}
}
