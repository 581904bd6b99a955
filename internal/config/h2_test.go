package config

import (
	"strings"
	"testing"
)

func TestProtoH2(t *testing.T) {
	base := "frontends:\n  - name: f\n    bind: [\"127.0.0.1:8080\"]\n    default_backend: b\n    mode: %s\n    proto: %s\nbackends:\n  - name: b\n    mode: %s\n    servers:\n      - {name: s, address: \"127.0.0.1:81\"}\n"
	cfg, err := LoadBytes("t.yaml", []byte(strings.NewReplacer("%s", "http").Replace(strings.Replace(base, "proto: %s", "proto: h2", 1))))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Frontends[0].H2C() {
		t.Error("proto h2 not loaded")
	}
	for _, bad := range []struct{ mode, proto, want string }{
		{"tcp", "h2", "proto h2 needs mode http"},
		{"http", "h3", `unknown proto "h3"`},
	} {
		y := strings.Replace(base, "mode: %s\n    proto: %s", "mode: "+bad.mode+"\n    proto: "+bad.proto, 1)
		y = strings.Replace(y, "mode: %s", "mode: "+bad.mode, 1)
		_, err := LoadBytes("t.yaml", []byte(y))
		if err == nil || !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "frontends[0].proto") {
			t.Errorf("mode %s proto %s: %v, want %q at frontends[0].proto", bad.mode, bad.proto, err, bad.want)
		}
	}
}
