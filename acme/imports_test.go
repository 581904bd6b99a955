package acme

import (
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestEngineImports: acme is an engine; it imports nothing from internal/.
func TestEngineImports(t *testing.T) {
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if p := strings.Trim(imp.Path.Value, `"`); strings.Contains(p, "lbd-ha/lbd/internal") {
				t.Errorf("%s imports %s", e.Name(), p)
			}
		}
	}
}
