package importer

import (
	"testing"

	"github.com/lbd-ha/lbd/internal/config"
)

// checkWithLoader runs lbd's own loader (what `lbd check` does) on an
// imported config: defaults, listen expansion and validation must accept it.
func checkWithLoader(t *testing.T, name string, data []byte) {
	t.Helper()
	cfg, err := config.LoadBytes(name+".golden.yaml", data)
	if err != nil {
		t.Fatalf("config.LoadBytes rejects the imported config:\n%v\n%s", err, data)
	}
	if cfg == nil {
		t.Fatal("config.LoadBytes returned nil config")
	}
}
