package importer

import (
	"errors"
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/internal/config"
)

// checkWithLoader runs lbd's own loader (what `lbd check` does) on an
// imported config: defaults, listen expansion and validation must accept it.
func checkWithLoader(t *testing.T, name string, data []byte) {
	t.Helper()
	cfg, err := config.LoadBytes(name+".golden.yaml", data)
	var ce *config.Error
	if errors.As(err, &ce) && onlyMissingCerts(ce) {
		return // the certificates live on the source machine
	}
	if err != nil {
		t.Fatalf("config.LoadBytes rejects the imported config:\n%v\n%s", err, data)
	}
	if cfg == nil {
		t.Fatal("config.LoadBytes returned nil config")
	}
}

// onlyMissingCerts reports whether every problem is a certificate file that
// does not exist here.
func onlyMissingCerts(e *config.Error) bool {
	for _, p := range e.Problems {
		if !strings.Contains(p.Path, ".ssl.crt") || !strings.Contains(p.Msg, "file not found") {
			return false
		}
	}
	return len(e.Problems) > 0
}
