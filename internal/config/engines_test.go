package config

import (
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
