package importer

import (
	"strings"
	"testing"
)

// `stats socket` options become global.runtime_api: the runtime API works
// on the imported path with the same access as in HAProxy.
func TestStatsSocketOptions(t *testing.T) {
	r := importString(t, "global\n stats socket /run/haproxy.sock mode 0660 user haproxy group adm level admin expose-fd listeners\n"+
		"backend b\n server s 127.0.0.1:81\n")
	g := r.Config.Global
	if g.ControlSocket != "/run/haproxy.sock" || g.RuntimeAPI == nil {
		t.Fatalf("global = %+v", g)
	}
	if ra := *g.RuntimeAPI; ra.Mode != "0660" || ra.User != "haproxy" || ra.Group != "adm" || ra.Level != "admin" {
		t.Errorf("runtime_api = %+v", ra)
	}
	if !strings.Contains(string(r.YAML), "runtime API text commands both work") || !strings.Contains(string(r.YAML), "not used: expose-fd listeners") {
		t.Errorf("note:\n%s", r.YAML)
	}
	r = importString(t, "global\n stats socket /run/haproxy.sock\nbackend b\n server s 127.0.0.1:81\n")
	if r.Config.Global.RuntimeAPI != nil || !strings.Contains(string(r.YAML), "level operator") {
		t.Errorf("no options: runtime_api %+v\n%s", r.Config.Global.RuntimeAPI, r.YAML)
	}
}
