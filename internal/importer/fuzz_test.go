package importer

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lbd-ha/lbd/internal/config"
)

func addSeeds(f *testing.F, pattern string) {
	files, _ := filepath.Glob(filepath.Join("testdata", pattern))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
}

// checkFuzzResult: an import either fails with a *ParseError or yields YAML
// that decodes strictly into config.Config.
func checkFuzzResult(t *testing.T, r *Result, err error) {
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("error is %T, not *ParseError: %v", err, err)
		}
		return
	}
	var cfg config.Config
	dec := yaml.NewDecoder(bytes.NewReader(r.YAML))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("output does not decode: %v\n%s", err, r.YAML)
	}
	if c := r.ExitCode(); c != 0 && c != 2 {
		t.Fatalf("exit code %d", c)
	}
}

func FuzzHAProxy(f *testing.F) {
	addSeeds(f, "*.cfg")
	f.Add([]byte("listen x :80\n stats realm a\\ b\\x41\n server s [::1]:80 check inter 1d\n"))
	f.Add([]byte(rulesCfg))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Import(Options{HAProxyPath: "fuzz.cfg", HAProxy: bytes.NewReader(data)})
		checkFuzzResult(t, r, err)
	})
}

func FuzzKeepalived(f *testing.F) {
	addSeeds(f, "*.conf")
	f.Add([]byte("vrrp_instance V\n{\n interface e # c\n virtual_router_id 1 }\n"))
	haproxy := []byte("frontend web\n bind :80\n default_backend b\nbackend b\n server s 127.0.0.1:81\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Import(Options{
			HAProxyPath: "fuzz.cfg", HAProxy: bytes.NewReader(haproxy),
			KeepalivedPath: "fuzz.conf", Keepalived: bytes.NewReader(data),
		})
		checkFuzzResult(t, r, err)
	})
}
