package importer

import (
	"strings"
	"testing"
)

func TestBindProtoH2(t *testing.T) {
	r := importString(t, "defaults\n mode http\nfrontend f\n bind :80 proto h2\n default_backend b\nbackend b\n server s 127.0.0.1:81\n")
	if fe := r.Config.Frontends[0]; fe.Proto != "h2" || len(fe.Bind) != 1 {
		t.Errorf("frontend = proto %q binds %v, want proto h2", fe.Proto, fe.Bind)
	}
	if !strings.Contains(string(r.YAML), "proto: h2") {
		t.Errorf("YAML has no proto:\n%s", r.YAML)
	}
	for _, w := range r.Warnings {
		if strings.Contains(w.Message, "proto") {
			t.Errorf("unexpected warning %v", w)
		}
	}
}
