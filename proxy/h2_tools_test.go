package proxy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// findTool looks for a test tool in bin/tools (where `make test` installs
// Go-based tools) and then in PATH; missing, the test skips with the
// remedy, or fails with CI=true.
func findTool(t *testing.T, name, remedy string) string {
	t.Helper()
	if p, err := filepath.Abs(filepath.Join("..", "bin", "tools", name)); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: %s", name, remedy)
	}
	t.Skipf("%s not found: %s", name, remedy)
	return ""
}

// TestH2Spec runs h2spec's whole suite against a cleartext HTTP/2 frontend.
func TestH2Spec(t *testing.T) {
	bin := findTool(t, "h2spec", "run `make test-tools` (installs it into bin/tools)")
	b := newBackend(t, "s1", nil)
	_, addr, _ := startEngine(t, h2Config(srv("s1", b.addr())))
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-h", host, "-p", port, "-o", "2").CombinedOutput()
	summary := string(out)
	if i := strings.LastIndex(summary, "Failures:"); i >= 0 {
		summary = summary[i:]
	} else if i := strings.LastIndex(summary, "Finished in"); i >= 0 {
		summary = summary[i:]
	}
	t.Logf("h2spec: %s", summary)
	if err != nil {
		t.Fatalf("h2spec failed: %v", err)
	}
}
