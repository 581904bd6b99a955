package config

import (
	"strings"
	"testing"
)

const sharedA = `# lb1
global:
  maxconn: 1000
  control_socket: /run/lbd/a.sock
vrrp:
  instances:
    - name: vi_1
      interface: eth0   # lb1's NIC
      virtual_router_id: 51
      priority: 150
      unicast_src: 10.0.0.1
      unicast_peers: [10.0.0.2]
      vips: [{address: 10.0.0.100/24}]
frontends:
  - name: fe
    bind: ["10.0.0.100:80"]
    default_backend: app
backends:
  - name: app
    servers:
      - {name: web1, address: "127.0.0.1:8080"}
pair:
  listen: 10.0.0.1:7946
`

const sharedB = `global:
  control_socket: /run/lbd/b.sock
  maxconn: 1000
vrrp:
  instances:
    - name: vi_1
      priority: 100
      interface: ens3
      unicast_peers:
        - 10.0.0.1
      virtual_router_id: 51
      unicast_src: 10.0.0.2
      vips: [{address: 10.0.0.100/24}]
frontends:
  - name: fe
    bind: ["10.0.0.100:80"]
    default_backend: app
backends:
  - name: app
    servers:
      - {name: web1, address: "127.0.0.1:8080"}
pair:
  listen: 10.0.0.2:7946
  interval: 200ms
`

func TestSharedPartIgnoresNodeLocalKeys(t *testing.T) {
	a, err := SharedPart("a.yaml", []byte(sharedA))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"priority", "interface", "unicast", "pair", "control_socket", "7946", "eth0"} {
		if strings.Contains(string(a), k) {
			t.Errorf("shared part has %q:\n%s", k, a)
		}
	}
	// B differs in local keys and their order only, but A keeps a comment
	// at the top: the hashes differ until B gets A's shared part.
	merged, err := MergeShared(a, []byte(sharedB), "b.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if SharedHash("a", []byte(sharedA)) != SharedHash("m", merged) {
		t.Fatalf("shared part changed by the merge:\n%s\n---\n%s", a, merged)
	}
	cfg, err := LoadBytes("b.yaml", merged)
	if err != nil {
		t.Fatalf("merged config invalid: %v\n%s", err, merged)
	}
	in := cfg.VRRP.Instances[0]
	if in.Priority != 100 || in.Interface != "ens3" || in.UnicastSrc != "10.0.0.2" || cfg.Pair.Listen != "10.0.0.2:7946" ||
		cfg.Global.ControlSocket != "/run/lbd/b.sock" || cfg.Pair.Interval.String() != "200ms" {
		t.Fatalf("node-local keys not kept: %+v %+v\n%s", in, cfg.Pair, merged)
	}
	// Merging again changes nothing.
	again, err := MergeShared(a, merged, "b.yaml")
	if err != nil || string(again) != string(merged) {
		t.Fatalf("merge not idempotent (%v):\n%s\n---\n%s", err, merged, again)
	}
	// Without the comment, the two hand-written files are in sync.
	if SharedHash("a", []byte(strings.TrimPrefix(sharedA, "# lb1\n"))) != SharedHash("b", []byte(sharedB)) {
		t.Error("files differing only in node-local keys have different shared hashes")
	}
}

func TestIsNodeLocal(t *testing.T) {
	for p, want := range map[string]bool{
		"pair": true, "pair.listen": true, "vrrp.instances[0].priority": true, "vrrp.instances[3].unicast_peers": true,
		"vrrp.instances[0].vips": false, "global.maxconn": false, "global.control_socket": true, "sysctl.file_max": true,
		"backends[0].servers": false,
	} {
		if IsNodeLocal(p) != want {
			t.Errorf("IsNodeLocal(%q) = %v", p, !want)
		}
	}
}

func TestMergeSharedRefusesAnchorOnLocalKey(t *testing.T) {
	own := "pair: &p\n  listen: 10.0.0.1:7946\n"
	if _, err := MergeShared([]byte("global: {maxconn: 10}\n"), []byte(own), "x.yaml"); err == nil || !strings.Contains(err.Error(), "anchor") {
		t.Fatalf("err = %v", err)
	}
}

// FuzzMergeShared: a pushed shared part is input from the peer: never a
// panic, and a merge that succeeds keeps this node's node-local keys.
func FuzzMergeShared(f *testing.F) {
	f.Add([]byte(sharedA), []byte(sharedB))
	f.Add([]byte("vrrp: {instances: [{name: x}, 3, [a]]}\n"), []byte(sharedB))
	f.Add([]byte("a: &x [1]\nb: *x\n"), []byte("pair: {listen: 1}\n"))
	f.Add([]byte("- 1\n"), []byte("global: 3\nvrrp: {instances: {name: x}}\n"))
	f.Fuzz(func(t *testing.T, shared, own []byte) {
		SharedPart("s", shared)
		SharedHash("o", own)
		out, err := MergeShared(shared, own, "own.yaml")
		if err != nil {
			return
		}
		if _, err := SharedPart("m", out); err != nil {
			t.Fatalf("merge output does not parse: %v\n%s", err, out)
		}
	})
}
