package importer

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/certs/certstest"
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

// TestBindProtoH2SSL: `proto h2` on an ssl bind offers h2 by ALPN on that
// bind; the section's plain binds stay HTTP/1.1.
func TestBindProtoH2SSL(t *testing.T) {
	site := filepath.Join(t.TempDir(), "site.pem")
	certstest.Write(t, site, certstest.Spec{Names: []string{"www.example.test"}})
	r := importString(t, "defaults\n mode http\nfrontend f\n bind :80\n bind :443 ssl crt "+site+" proto h2\n bind :8443 ssl crt "+site+" alpn http/1.1 proto h2\n default_backend b\nbackend b\n server s 127.0.0.1:81\n")
	fe := r.Config.Frontends[0]
	if fe.Proto != "" || len(fe.Bind) != 3 {
		t.Fatalf("frontend = proto %q binds %v, want no section proto", fe.Proto, fe.Bind)
	}
	if a := fe.Bind[1].SSL.ALPN; strings.Join(a, ",") != "h2" {
		t.Errorf("bind :443 alpn %v, want [h2]", a)
	}
	if a := fe.Bind[2].SSL.ALPN; strings.Join(a, ",") != "h2,http/1.1" {
		t.Errorf("bind :8443 alpn %v, want [h2 http/1.1]", a)
	}
	for _, w := range r.Warnings {
		if strings.Contains(w.Message, "proto") && w.Severity != SeverityNote {
			t.Errorf("unexpected warning %v", w)
		}
	}
}
