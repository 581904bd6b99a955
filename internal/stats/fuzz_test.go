package stats

import (
	"encoding/csv"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
)

// FuzzPage feeds hostile names and request URIs: the CSV must keep one
// record per row with the full column count, the HTML must never contain a
// raw name with markup, and nothing may panic.
func FuzzPage(f *testing.F) {
	f.Add("app", "web01", "/lbd?stats;csv")
	f.Add(`a,"b`, "<img src=x onerror=alert(1)>", "/lbd?stats;up;norefresh")
	f.Add("x\r\ny", "\x00\xff", "/lbd?stats")
	f.Fuzz(func(t *testing.T, be, srv, uri string) {
		st := control.Status{
			Frontends: []control.FrontendStatus{{Name: be}},
			Backends:  []control.BackendStatus{{Name: be, Servers: []control.ServerStatus{{Name: srv, State: "DOWN"}}}},
		}
		var b strings.Builder
		if err := WriteCSV(&b, &st, testNow, false); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(b.String(), "# "))).ReadAll()
		if err != nil {
			t.Fatalf("CSV does not parse: %v", err)
		}
		if len(recs) != 4 {
			t.Fatalf("%d CSV records, want header + 3", len(recs))
		}
		for _, r := range recs {
			if len(r) != len(CSVColumns)+1 {
				t.Fatalf("record with %d fields", len(r))
			}
		}
		if recs[2][1] != csvClean(srv) || recs[2][0] != csvClean(be) {
			t.Fatalf("names not round-tripped: %q %q", recs[2][0], recs[2][1])
		}
		h := newHandler(config.Stats{Enable: true, URI: "/lbd?stats"}, func() control.Status { return st }, func() time.Time { return testNow })
		if !strings.HasPrefix(uri, "/") || strings.ContainsAny(uri, " \r\n\t") {
			return
		}
		req := httptest.NewRequest(http.MethodGet, "http://x/", nil)
		req.RequestURI = uri
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 200 && strings.Contains(rec.Header().Get("Content-Type"), "html") {
			if strings.ContainsAny(srv, "<>") && strings.Contains(rec.Body.String(), srv) {
				t.Fatalf("raw name %q in HTML", srv)
			}
		}
	})
}
