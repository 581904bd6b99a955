package config

import (
	"os"
	"strings"
	"testing"
)

// TestEveryKeyDocumented keeps docs/config.md in step with the schema: keys
// shared by defaults/frontends/backends/listen are documented once without
// the section prefix.
func TestEveryKeyDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, k := range Keys() {
		want := k
		for _, p := range []string{"frontends[].", "backends[].", "listen[].", "defaults."} {
			if strings.HasPrefix(k, p) && !strings.HasPrefix(k, "defaults.default_server") {
				want = strings.TrimPrefix(k, p)
			}
		}
		want = strings.TrimPrefix(want, "health_check.") // documented once under Backend keys
		if strings.HasPrefix(k, "defaults.health_check") || strings.Contains(k, ".health_check.") {
			want = "health_check." + want
		}
		if !strings.Contains(doc, "`"+want+"`") {
			t.Errorf("docs/config.md does not document %s (looked for `%s`)", k, want)
		}
	}
}
