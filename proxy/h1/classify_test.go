package h1

import (
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, k := range kindNames {
		for _, n := range []string{k.name, strings.ToUpper(k.name), strings.ToUpper(k.name[:1]) + k.name[1:]} {
			if got := classify([]byte(n)); got != k.kind {
				t.Errorf("%s: kind %d, want %d", n, got, k.kind)
			}
		}
		if got := classify([]byte(k.name[:len(k.name)-1] + "x")); got != KindOther {
			t.Errorf("%sx: kind %d", k.name[:len(k.name)-1], got)
		}
	}
	for _, n := range []string{"", "x", "content-length-x", strings.Repeat("a", 100), "server", "date"} {
		if got := classify([]byte(n)); got != KindOther {
			t.Errorf("%q: kind %d", n, got)
		}
	}
}
