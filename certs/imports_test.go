package certs

import (
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestEngineImports: certs is an engine; it must import nothing from
// internal/ and nothing outside the standard library.
func TestEngineImports(t *testing.T) {
	ents, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.Contains(p, ".") || strings.Contains(p, "internal") {
				t.Errorf("%s imports %s: certs uses the standard library only", e.Name(), p)
			}
		}
	}
}
