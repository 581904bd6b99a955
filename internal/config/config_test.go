package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load("../../packaging/lbd.yaml")
	if err != nil {
		t.Fatalf("packaging/lbd.yaml must pass lbd check:\n%v", err)
	}
	fe := cfg.FrontendByName("main_webapp")
	if fe == nil || fe.Mode != "http" || fe.Timeouts.HTTPRequest != 10*time.Second {
		t.Fatalf("main_webapp not inherited from defaults: %+v", fe)
	}
	be := cfg.BackendByName("app_servers")
	if be.Servers[0].Fall != 5 || be.Servers[0].Rise != 2 || *be.Servers[0].Weight != 1 {
		t.Errorf("server settings: %+v", be.Servers[0])
	}
	if st := cfg.BackendByName("static"); st.Servers[0].Inter != 2*time.Second || st.Servers[0].Fall != 3 {
		t.Errorf("static01 defaults: %+v", st.Servers[0])
	}
	if !True(fe.Options.HTTPServerClose) || fe.Options.ForwardFor == nil || fe.Options.ForwardFor.Header != "X-Forwarded-For" {
		t.Errorf("options not inherited: %+v", fe.Options)
	}
	if cfg.Stats == nil || cfg.Stats.Realm != "Strictly Private" {
		t.Errorf("stats: %+v", cfg.Stats)
	}
	in := cfg.VRRP.Instances[0]
	if in.Version != 3 || !True(in.Preempt) || *in.GARP.MasterDelay != 5*time.Second {
		t.Errorf("vrrp defaults: %+v", in)
	}
}

// The "done when": an unknown key, a bad duration and a dangling
// use_backend are all reported, each with its line.
func TestThreeErrorsWithLines(t *testing.T) {
	src := `global:
  maxconn: 100
frontends:
  - name: web
    bind: ["*:8080"]
    bindd: ["*:8081"]
    timeouts:
      client: 10x
    use_backends:
      - backend: nowhere
        if: is_api
    acls:
      - name: is_api
        criterion: path_beg
        values: [/api]
    default_backend: app
backends:
  - name: app
    servers:
      - name: s1
        address: 127.0.0.1:9000
`
	_, err := LoadBytes("bad.yaml", []byte(src))
	if err == nil {
		t.Fatal("want errors")
	}
	msg := err.Error()
	for _, want := range []string{
		`bad.yaml:6: frontends[0].bindd: unknown key "bindd"`,
		`bad.yaml:8: frontends[0].timeouts.client: `,
		`invalid duration "10x"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if !strings.Contains(msg, `bad.yaml:10: frontends[0].use_backends[0].backend: backend "nowhere" does not exist`) {
		t.Errorf("dangling use_backend not reported with its line:\n%s", msg)
	}
	if n := strings.Count(msg, "\n") + 1; n != 3 {
		t.Errorf("want exactly the 3 problems, got %d:\n%s", n, msg)
	}
}

func TestAllProblemsAtOnce(t *testing.T) {
	src := `global:
  maxconn: "lots"
  spread_checks: 90
defaults:
  timeouts:
    connect: 0s
frontends:
  - name: a
    bind: ["*:99999", "*:80"]
    default_backend: b
  - name: a
    bind: ["*:80"]
    default_backend: b
backends:
  - name: b
    servers:
      - name: s
        address: 10.0.0.1
        inter: 2000
vrrp:
  instances:
    - name: v
      interface: eth0
      virtual_router_id: 300
      vips:
        - address: 10.0.0.100/24
        - address: fd00::100/64
`
	_, err := LoadBytes("x.yaml", []byte(src))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *Error, got %v", err)
	}
	msg := err.Error()
	// Type errors are all reported together.
	for _, want := range []string{"x.yaml:2: global.maxconn: wrong type: want an integer", "x.yaml:19: backends[0].servers[0].inter: ", "has no unit"} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	fixed := strings.NewReplacer(`"lots"`, "100", "inter: 2000", "inter: 2s").Replace(src)
	_, err = LoadBytes("x.yaml", []byte(fixed))
	if err == nil {
		t.Fatal("want semantic errors")
	}
	msg = err.Error()
	for _, want := range []string{
		"x.yaml:3: global.spread_checks: must be 0..50",
		"x.yaml:6: defaults.timeouts.connect: must be greater than 0",
		`x.yaml:9: frontends[0].bind[0]: port "99999" out of range`,
		`x.yaml:11: frontends[1].name: duplicate frontend name "a"`,
		`x.yaml:12: frontends[1].bind[0]: address "*:80" is already bound by frontends[0].bind[1]`,
		`x.yaml:18: backends[0].servers[0].address: invalid address "10.0.0.1"`,
		"x.yaml:24: vrrp.instances[0].virtual_router_id: must be 1..255",
		"x.yaml:27: vrrp.instances[0].vips[1].address: address family IPv6 differs from IPv4",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	// Sorted by line.
	var last int
	for _, p := range ce.Problems {
		if p.Line < last {
			t.Errorf("problems not sorted by line: %v", ce.Problems)
		}
		last = p.Line
	}
}

func TestListenExpansionAndLegacyTimeouts(t *testing.T) {
	src := `defaults:
  mode: http
  timeouts:
    contimeout: 5s
    clitimeout: 50s
    srvtimeout: 50s
listen:
  - name: app_frontend
    bind: ["0.0.0.0:80"]
    stats:
      enable: true
      uri: /haproxy?stats
      realm: Strictly Private
      auth: ["admin:x"]
    balance: roundrobin
    cookie: {name: SERVERID, indirect: true, nocache: true}
    servers:
      - {name: web01, address: "10.10.0.11:80", check: true, cookie: w1, inter: 2s, rise: 2, fall: 5}
`
	cfg, err := LoadBytes("l.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	fe, be := cfg.FrontendByName("app_frontend"), cfg.BackendByName("app_frontend")
	if fe == nil || be == nil || !fe.FromListen || fe.DefaultBackend != "app_frontend" {
		t.Fatalf("listen not expanded: %+v %+v", fe, be)
	}
	if fe.Timeouts.Connect != 5*time.Second || be.Timeouts.Server != 50*time.Second || fe.Timeouts.Client != 50*time.Second {
		t.Errorf("legacy timeouts not folded: %+v", fe.Timeouts)
	}
	if be.Cookie.Mode != "insert" || be.Servers[0].Fall != 5 {
		t.Errorf("backend half: %+v", be)
	}
	if fe.Timeouts.Queue != 5*time.Second || fe.Timeouts.HTTPKeepAlive != DefaultHTTPRequest {
		t.Errorf("fallbacks: %+v", fe.Timeouts)
	}
}

func TestStrictTypes(t *testing.T) {
	for name, src := range map[string]string{
		"string for int":   "global:\n  maxconn: \"100\"\n",
		"string for bool":  "sysctl:\n  ip_forward: \"yes\"\n",
		"int for duration": "defaults:\n  timeouts:\n    client: 5\n",
		"unknown top":      "frontend:\n  - name: x\n",
		"not a mapping":    "- a\n- b\n",
		"yaml syntax":      "global:\n  maxconn: [1,\n",
	} {
		if _, err := LoadBytes("t.yaml", []byte(src)); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !regexp.MustCompile(`^t\.yaml(:\d+)?: `).MatchString(err.Error()) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
}

func TestConditions(t *testing.T) {
	known := map[string]bool{"a": true, "b": true, "c": true}
	cases := []struct {
		expr string
		vals map[string]bool
		want bool
	}{
		{"a", map[string]bool{"a": true}, true},
		{"a b", map[string]bool{"a": true}, false},
		{"a b || c", map[string]bool{"c": true}, true},
		{"a or !c", map[string]bool{"c": true}, false},
		{"! a", map[string]bool{}, true},
		{"!a !b", map[string]bool{"b": true}, false},
	}
	for _, tc := range cases {
		c, err := ParseCondition(tc.expr, known)
		if err != nil {
			t.Fatalf("%q: %v", tc.expr, err)
		}
		if got := c.Eval(func(n string) bool { return tc.vals[n] }); got != tc.want {
			t.Errorf("%q with %v = %v, want %v", tc.expr, tc.vals, got, tc.want)
		}
	}
	for _, bad := range []string{"", "a ||", "|| a", "a !", "nope", "{ nope /x }", "{ ssl_fc x }", "{ path_beg }", "{ ssl_fc", "{ path_beg /x", "{ nosuch /x }", "{path_beg /x}"} {
		if _, err := ParseCondition(bad, known); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestLoadMissingAndHugeFile(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing file error should name it: %v", err)
	}
	p := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(p, make([]byte, maxFileSize+10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge file: %v", err)
	}
}

func FuzzLoadBytes(f *testing.F) {
	if b, err := os.ReadFile("../../packaging/lbd.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("frontends:\n  - name: a\n    bind: [\"*:1\"]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := LoadBytes("f.yaml", b)
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
	})
}

// TestEmptyMappingMeansOn: `forwardfor: {}` turns the option on with its
// defaults (viper alone drops keys without leaves, and lbd used to run such
// a config without the header); `cookie: {}` is a cookie without a name,
// an error instead of silently no persistence.
func TestEmptyMappingMeansOn(t *testing.T) {
	src := `defaults:
  mode: http
  options:
    forwardfor: {}
frontends:
  - name: fe
    bind: ["127.0.0.1:80"]
    default_backend: be
backends:
  - name: be
    servers:
      - {name: a, address: "127.0.0.1:81"}
`
	cfg, err := LoadBytes("e.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		ff   *ForwardFor
	}{{"frontend fe", cfg.FrontendByName("fe").Options.ForwardFor}, {"backend be", cfg.BackendByName("be").Options.ForwardFor}} {
		if c.ff == nil || c.ff.Header != "X-Forwarded-For" {
			t.Errorf("%s: forwardfor %+v, want on with header X-Forwarded-For", c.name, c.ff)
		}
	}
	// Through an alias and a merge key.
	aliased := `x-opts: &ff {}
x-base: &base
  options:
    forwardfor: *ff
defaults:
  <<: *base
  mode: http
frontends:
  - name: fe
    bind: ["127.0.0.1:80"]
    default_backend: be
backends:
  - name: be
    servers:
      - {name: a, address: "127.0.0.1:81"}
`
	if cfg, err := LoadBytes("a.yaml", []byte(aliased)); err != nil {
		t.Errorf("aliases: %v", err)
	} else if ff := cfg.BackendByName("be").Options.ForwardFor; ff == nil {
		t.Error("forwardfor {} through an alias and a merge key stayed off")
	}
	_, err = LoadBytes("e.yaml", []byte(strings.Replace(src, "  - name: be\n", "  - name: be\n    cookie: {}\n", 1)))
	if err == nil || !strings.Contains(err.Error(), "cookie") {
		t.Errorf("cookie: {} gave %v, want an error about the cookie", err)
	}
}

func TestHardStopAfter(t *testing.T) {
	base := "global:\n%s\nbackends:\n  - name: b\n    servers:\n      - {name: s, address: \"10.0.0.1:80\"}\n"
	cfg, err := LoadBytes("x.yaml", []byte(fmt.Sprintf(base, "  maxconn: 10")))
	if err != nil || cfg.Global.HardStopAfter != DefaultHardStopAfter {
		t.Fatalf("default hard_stop_after: %v, %v", cfg, err)
	}
	cfg, err = LoadBytes("x.yaml", []byte(fmt.Sprintf(base, "  hard_stop_after: 2m")))
	if err != nil || cfg.Global.HardStopAfter != 2*time.Minute {
		t.Fatalf("hard_stop_after 2m: %v, %v", cfg, err)
	}
	_, err = LoadBytes("x.yaml", []byte(fmt.Sprintf(base, "  hard_stop_after: -1s")))
	if err == nil || !strings.Contains(err.Error(), "x.yaml:2: global.hard_stop_after: must be greater than 0") {
		t.Errorf("negative hard_stop_after: %v", err)
	}
}

func TestPairSection(t *testing.T) {
	base := "frontends:\n  - name: f\n    bind: ['*:80']\n    default_backend: b\nbackends:\n  - name: b\n    servers:\n      - {name: s, address: '127.0.0.1:8080'}\n"
	cfg, err := LoadBytes("t.yaml", []byte(base+"pair:\n  listen: 10.0.0.1:7946\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Pair
	if p == nil || p.StateDir != DefaultPairStateDir || p.Interval != DefaultPairInterval || p.Timeout != DefaultPairTimeout || p.SplitBrain != "step_down" {
		t.Fatalf("defaults: %+v", p)
	}
	if cfg, err := LoadBytes("t.yaml", []byte(base)); err != nil || cfg.Pair != nil {
		t.Fatalf("no pair section: %v %v", cfg, err)
	}
	for _, c := range []struct{ yaml, want string }{
		{"pair: {}\n", "t.yaml:9: pair.listen: the pair section needs"},
		{"pair:\n  listen: nope\n", "pair.listen: invalid address"},
		{"pair:\n  listen: '*:7946'\n  peer: '0.0.0.0:7946'\n", "pair.peer: must be the peer's reachable address"},
		{"pair:\n  listen: '*:7946'\n  interval: 10ms\n", "pair.interval: must be 100ms..1m"},
		{"pair:\n  listen: '*:7946'\n  split_brain: fight\n", "pair.split_brain: must be step_down or log"},
		{"pair:\n  listen: '*:7946'\n  state_dir: rel\n", "pair.state_dir: must be an absolute path"},
		{"pair:\n  listen: '*:7946'\n  fingerprint: x\n", `unknown key "fingerprint"`},
	} {
		_, err := LoadBytes("t.yaml", []byte(base+c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.yaml, err, c.want)
		}
	}
}
