package config

import (
	"strconv"
	"strings"
	"testing"
)

// engineRule is one rule that used to be (re)checked inside an engine and
// now lives only here: the snippet must be refused with the key path.
type engineRule struct {
	name, yaml, want string
}

func checkEngineRules(t *testing.T, rules []engineRule) {
	t.Helper()
	for _, r := range rules {
		_, err := LoadBytes("x.yaml", []byte(r.yaml))
		if err == nil || !strings.Contains(err.Error(), r.want) {
			t.Errorf("%s: got %v, want an error containing %q", r.name, err, r.want)
		}
	}
}

func hcBackend(hc string) string {
	return "backends:\n  - name: b\n    health_check: " + hc + "\n    servers:\n      - {name: s, address: \"127.0.0.1:1\", check: true}\n"
}

// The HTTP check request lbd writes must stay one well-formed request line
// and Host header; these rules were checks.buildSpecs' before.
func TestHealthCheckRules(t *testing.T) {
	checkEngineRules(t, []engineRule{
		{"type", hcBackend("{type: icmp}"), "x.yaml:3: backends[0].health_check.type: must be tcp or http"},
		{"method CRLF", hcBackend(`{type: http, method: "GE\r\nT"}`), "backends[0].health_check.method: method \"GE\\r\\nT\" is not an HTTP token"},
		{"method long", hcBackend("{type: http, method: " + strings.Repeat("G", 33) + "}"), "health_check.method"},
		{"uri space", hcBackend(`{type: http, uri: "/a b"}`), "backends[0].health_check.uri: uri \"/a b\" has spaces"},
		{"uri relative", hcBackend(`{type: http, uri: "a"}`), "backends[0].health_check.uri: must start with /"},
		{"uri long", hcBackend(`{type: http, uri: "/` + strings.Repeat("a", 4096) + `"}`), "health_check.uri: uri"},
		{"version", hcBackend(`{type: http, version: HTTP/2}`), "health_check.version: must be HTTP/1.0 or HTTP/1.1"},
		{"host CRLF", hcBackend(`{type: http, host: "a\r\nX: y"}`), "backends[0].health_check.host: host"},
		{"expect two", hcBackend(`{type: http, expect: {status: 200, string: x}}`), "health_check.expect: set exactly one"},
		{"expect status", hcBackend(`{type: http, expect: {status: 700}}`), "health_check.expect.status: must be 100..599"},
		{"expect rstatus", hcBackend(`{type: http, expect: {rstatus: "("}}`), "health_check.expect.rstatus: invalid regular expression"},
		{"expect string", hcBackend(`{type: http, expect: {string: "` + strings.Repeat("x", 8193) + `"}}`), "health_check.expect.string: longer than 8192 bytes"},
		{"backend twice", "backends:\n  - name: b\n  - name: b\n", `backends[1].name: duplicate backend name "b"`},
		{"listen and backend", "backends:\n  - name: b\nlisten:\n  - name: b\n    bind: [\"127.0.0.1:1\"]\n", `duplicate backend name "b"`},
		{"server twice", "backends:\n  - name: b\n    servers:\n      - {name: s, address: \"127.0.0.1:1\"}\n      - {name: s, address: \"127.0.0.1:2\"}\n", `duplicate server name "s"`},
		{"fall", "backends:\n  - name: b\n    servers:\n      - {name: s, address: \"127.0.0.1:1\", fall: -1}\n", "rise and fall must be at least 1"},
		{"spread", "global:\n  spread_checks: 60\n", "global.spread_checks: must be 0..50"},
	})
	// A valid HTTP check still loads.
	if _, err := LoadBytes("x.yaml", []byte(hcBackend(`{type: http, method: GET, uri: "/health?x=1", version: HTTP/1.1, host: www.example.com, expect: {rstatus: "^2"}}`))); err != nil {
		t.Errorf("valid check refused: %v", err)
	}
}

func vrrpInst(extra string) string {
	return "vrrp:\n  instances:\n    - name: v\n      interface: eth0\n      virtual_router_id: 51\n" + extra
}

// The VRRP rules that vrrp.NewNode (ValidateInstance) checked a second
// time. Four were missing here, so `lbd check` passed a config that `lbd
// run` then refused: IPv6 VIPs with version 2, track weight ±254, more than
// 255 VIPs and preempt_delay over 1000s.
func TestVRRPRules(t *testing.T) {
	v4 := "      vips: [{address: 10.0.0.100/24}]\n"
	many := "      vips:\n"
	for i := range 256 {
		many += "        - address: 10.0." + itoa(i/250) + "." + itoa(i%250+1) + "\n"
	}
	checkEngineRules(t, []engineRule{
		{"vrid", vrrpInst("      virtual_router_id: 0\n" + v4), "virtual_router_id"},
		{"no interface", "vrrp:\n  instances:\n    - name: v\n      virtual_router_id: 1\n" + v4, "vrrp.instances[0].interface: needs an interface"},
		{"no vips", vrrpInst(""), `instance "v" has no VIPs`},
		{"bad vip", vrrpInst("      vips: [{address: 10.9.0.300}]\n"), `invalid VIP "10.9.0.300"`},
		{"mapped prefix", vrrpInst("      vips: [{address: \"::ffff:10.0.0.1/64\"}]\n"), "invalid VIP"},
		{"mixed families", vrrpInst("      vips: [{address: 10.0.0.1}, {address: \"2001:db8::1\"}]\n"), "address family IPv6 differs from IPv4"},
		{"v3 auth", vrrpInst("      auth_pass: x\n" + v4), "VRRPv3 has no authentication"},
		{"long pass", vrrpInst("      version: 2\n      auth_pass: \"123456789\"\n" + v4), "auth_pass: at most 8 bytes"},
		{"v2 100ms", vrrpInst("      version: 2\n      advert_interval: 100ms\n" + v4), "VRRPv2 interval must be whole seconds"},
		{"v3 5ms", vrrpInst("      advert_interval: 5ms\n" + v4), "VRRPv3 interval must be 10ms..40.95s"},
		{"v3 15ms", vrrpInst("      advert_interval: 15ms\n" + v4), "use a multiple of 10ms"},
		{"priority", vrrpInst("      priority: 300\n" + v4), "priority: must be 1..255"},
		{"weight 254", vrrpInst("      track: {interfaces: [{name: eth1, weight: 254}]}\n" + v4), "track.interfaces[0].weight: must be -253..253"},
		{"weight -254", vrrpInst("      track: {interfaces: [{name: eth1, weight: -254}]}\n" + v4), "must be -253..253"},
		{"bad peer", vrrpInst("      unicast_peers: [nope]\n" + v4), `unicast_peers[0]: invalid address "nope"`},
		{"v6 peer", vrrpInst("      unicast_peers: [\"2001:db8::2\"]\n" + v4), "unicast_peers[0]: address family IPv6"},
		{"v2 ipv6", vrrpInst("      version: 2\n      vips: [{address: \"2001:db8::1\"}]\n"), "vips[0].address: IPv6 VIPs need version: 3"},
		{"garp repeat", vrrpInst("      garp: {master_repeat: -1}\n" + v4), "garp.master_repeat: must be 1..100"},
		{"garp delay", vrrpInst("      garp: {master_delay: -1s}\n" + v4), "garp.master_delay: must not be negative"},
		{"preempt delay", vrrpInst("      preempt_delay: 1h\n" + v4), "preempt_delay: must be 0s..1000s"},
		{"256 vips", vrrpInst(many), "256 VIPs: an advert carries at most 255"},
	})
	// The boundaries still load.
	for _, ok := range []string{
		vrrpInst("      preempt_delay: 1000s\n      track: {interfaces: [{name: eth1, weight: -253}]}\n" + v4),
		vrrpInst("      vips: [{address: \"::ffff:10.0.0.1\"}, {address: 10.0.0.2}]\n"),
		vrrpInst("      version: 2\n      advert_interval: 255s\n      auth_pass: \"12345678\"\n" + v4),
	} {
		if _, err := LoadBytes("x.yaml", []byte(ok)); err != nil {
			t.Errorf("refused:\n%s\n%v", ok, err)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestParseVIP(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1":            "10.0.0.1/32",
		"10.0.0.1/24":         "10.0.0.1/24",
		"2001:db8::1":         "2001:db8::1/128",
		"2001:db8::1/64":      "2001:db8::1/64",
		"::ffff:10.0.0.1":     "10.0.0.1/32",
		"::ffff:10.0.0.1/120": "10.0.0.1/24",
		"::ffff:10.0.0.1/64":  "error",
		"10.0.0.1/33":         "error",
		"nope":                "error",
		"fe80::1%eth0":        "fe80::1/128", // the zone is dropped, as before
	} {
		p, err := ParseVIP(in)
		got := p.String()
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("ParseVIP(%q) = %s (%v), want %s", in, got, err, want)
		}
	}
}
