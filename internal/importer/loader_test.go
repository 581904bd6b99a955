package importer

import "testing"

// checkWithLoader runs lbd's own loader on a golden output once
// config.LoadBytes exists; see loader_load_test.go.
var checkWithLoader = func(t *testing.T, name string, data []byte) {}
