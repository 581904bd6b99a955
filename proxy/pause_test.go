package proxy

import (
	"errors"
	"net/http"
	"testing"
)

// A paused frontend stays paused across a reload that keeps it, comes back
// on resume, and is forgotten when a reload removes it.
func TestFrontendPauseAndReload(t *testing.T) {
	be := newBackend(t, "b1", func(w http.ResponseWriter, r *http.Request) {})
	addr := freeAddr(t)
	cfg := testConfig(srv("s1", be.addr()))
	cfg.Frontends[0].Binds = []string{addr}
	e, _, _ := startEngine(t, cfg)

	var ne *NameError
	if err := e.SetFrontendEnabled("nope", false); !errors.As(err, &ne) {
		t.Fatalf("unknown frontend: %v", err)
	}
	if err := e.SetFrontendEnabled("fe", true); !errors.Is(err, ErrFrontendActive) {
		t.Fatalf("enable an active frontend: %v", err)
	}
	if err := e.SetFrontendEnabled("fe", false); err != nil {
		t.Fatal(err)
	}
	if err := e.SetFrontendEnabled("fe", false); !errors.Is(err, ErrFrontendPaused) {
		t.Fatalf("pause twice: %v", err)
	}
	if e.FrontendServing("fe") || len(e.BoundAddrs("fe")) != 0 {
		t.Fatal("paused frontend still serving")
	}
	if err := e.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if e.FrontendServing("fe") || !e.FrontendPaused("fe") {
		t.Fatal("a reload resumed the paused frontend")
	}
	if err := e.SetFrontendEnabled("fe", true); err != nil {
		t.Fatal(err)
	}
	if !e.FrontendServing("fe") {
		t.Fatal("resumed frontend not serving")
	}
	if resp, _ := dialRaw(t, addr).get("/"); resp.StatusCode != 200 {
		t.Fatalf("after resume: %d", resp.StatusCode)
	}

	if err := e.SetFrontendEnabled("fe", false); err != nil {
		t.Fatal(err)
	}
	renamed := *cfg
	renamed.Frontends = []Frontend{cfg.Frontends[0]}
	renamed.Frontends[0].Name = "fe2"
	if err := e.Reload(&renamed); err != nil {
		t.Fatal(err)
	}
	if e.FrontendPaused("fe") || !e.FrontendServing("fe2") {
		t.Fatal("pause of a removed frontend kept, or the new one not serving")
	}
}
