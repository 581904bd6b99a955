package config

import (
	"strings"
	"testing"
)

const rulesYAML = `
userlists:
  - name: admins
    users: ["alice:s3cret"]
frontends:
  - name: www
    bind: ["127.0.0.1:8080"]
    default_backend: app
    acls:
      - {name: too_fast, criterion: sc_http_req_rate(0), values: [gt, "20"]}
    stick_table: {size: 100000, expire: 30s, store: ["http_req_rate(10s)", conn_cur]}
    tcp_request:
      connection:
        - {action: reject, if: "{ src 192.0.2.0/24 }"}
        - {action: track-sc1, key: src}
    http_request:
      - {action: track-sc0, key: "req.hdr(X-Forwarded-For,-1)"}
      - {action: deny, deny_status: 429, if: too_fast}
      - {action: deny, if: "{ path_beg /admin } !{ src 10.0.0.0/8 }"}
      - {action: auth, userlist: admins, realm: ops, if: "{ path_beg /ops }"}
      - {action: redirect, scheme: https, code: 301, unless: "{ hdr(x-forwarded-proto) https }"}
      - {action: return, status: 200, content_type: text/plain, string: "ok", if: "{ path /healthz }"}
      - {action: set-header, name: X-Forwarded-Proto, value: https}
      - {action: set-var, name: txn.host, value: "req.hdr(host)"}
      - {action: tarpit, if: "{ var(txn.host) evil.example }"}
    http_response:
      - {action: set-header, name: Strict-Transport-Security, value: "max-age=63072000"}
      - {action: del-header, name: Server}
backends:
  - name: app
    servers: [{name: a, address: "127.0.0.1:9000"}]
  - name: abuse
    stick_table: {size: 1000, expire: 1m, store: [conn_cur]}
`

func TestRulesLoad(t *testing.T) {
	cfg, err := LoadBytes("rules.yaml", []byte(rulesYAML))
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Frontends[0]
	if len(f.HTTPRequest) != 9 || len(f.HTTPResponse) != 2 || len(f.TCPRequest.Connection) != 2 || f.StickTable == nil {
		t.Fatalf("decoded %+v", f.FrontendPart)
	}
	if f.Timeouts.Tarpit != f.Timeouts.Connect {
		t.Errorf("tarpit default %v, want connect %v", f.Timeouts.Tarpit, f.Timeouts.Connect)
	}
}

// TestRuleErrors: each bad rule is reported with its file, line and key
// path; condition errors with the column too.
func TestRuleErrors(t *testing.T) {
	cases := []struct{ rule, want string }{
		{`{action: frob}`, "rules.yaml:8: frontends[0].http_request[0].action: unknown action"},
		{`{action: deny, if: "{ path_beg /a"}`, "rules.yaml:8:29: frontends[0].http_request[0].if:"},
		{`{action: deny, if: "{ path_beg /a } || nope"}`, "rules.yaml:8:48: "},
		{`{action: deny, if: "{ nosuch /a }"}`, "rules.yaml:8:31: "},
		{`{action: deny, if: "{ sc_http_req_rate(0) gt many }"}`, "not an integer"},
		{`{action: set-header, name: X-A, value: "a\r\nSet-Cookie: x=1"}`, "http_request[0].value: the value must not hold CR, LF"},
		{`{action: set-header, name: "Content-Length", value: "1"}`, "managed by the proxy"},
		{`{action: redirect, location: "http://x/ y"}`, "http_request[0].location: redirect target"},
		{`{action: redirect, location: "//evil"}`, "scheme-relative"},
		{`{action: redirect, prefix: /a, scheme: https}`, "exactly one of"},
		{`{action: redirect, scheme: https, code: 200}`, "http_request[0].code"},
		{`{action: auth, userlist: nobody}`, `no userlist "nobody"`},
		{`{action: track-sc0, table: nosuch}`, `no stick table "nosuch"`},
		{`{action: track-sc0, key: "req.cook(x)", table: www}`, "http_request[0].key"},
		{`{action: deny, deny_status: 99}`, "deny_status: must be 200..599"},
		{`{action: set-var, name: sess.x, value: "str(a)"}`, "want txn.NAME"},
		{`{action: set-path, value: "x"}`, "absolute path"},
		{`{action: deny, if: a, unless: b}`, "either if or unless"},
	}
	for _, tc := range cases {
		src := `
frontends:
  - name: www
    bind: ["127.0.0.1:8080"]
    default_backend: app
    stick_table: {size: 10, expire: 10s, store: [conn_cur]}
    http_request:
      - ` + tc.rule + `
backends:
  - name: app
    servers: [{name: a, address: "127.0.0.1:9000"}]
`
		_, err := LoadBytes("rules.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.rule, err, tc.want)
		}
	}
}

func TestStickTableErrors(t *testing.T) {
	for _, tc := range []struct{ table, want string }{
		{`{size: 0, expire: 10s}`, "stick_table.size"},
		{`{size: 20000000, expire: 10s}`, "stick_table.size"},
		{`{size: 10}`, "stick_table.expire: required"},
		{`{size: 10, expire: 10s, store: [http_req_rate]}`, "needs a period"},
		{`{size: 10, expire: 10s, type: integer}`, "stick_table.type"},
	} {
		src := `
frontends:
  - name: www
    bind: ["127.0.0.1:8080"]
    default_backend: app
    stick_table: ` + tc.table + `
backends:
  - name: app
    servers: [{name: a, address: "127.0.0.1:9000"}]
`
		_, err := LoadBytes("t.yaml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.table, err, tc.want)
		}
	}
}

func TestTCPContentNeedsModeTCP(t *testing.T) {
	src := `
frontends:
  - name: www
    bind: ["127.0.0.1:8080"]
    default_backend: app
    tcp_request:
      content:
        - {action: reject, if: "{ src 192.0.2.0/24 }"}
backends:
  - name: app
    servers: [{name: a, address: "127.0.0.1:9000"}]
`
	if _, err := LoadBytes("c.yaml", []byte(src)); err == nil || !strings.Contains(err.Error(), "tcp_request.content rules need mode tcp") {
		t.Errorf("content rules in mode http: %v", err)
	}
	tcp := strings.ReplaceAll(src, "    default_backend: app\n", "    mode: tcp\n    default_backend: app\n")
	tcp = strings.ReplaceAll(tcp, "  - name: app\n", "  - name: app\n    mode: tcp\n")
	if _, err := LoadBytes("c.yaml", []byte(tcp)); err != nil {
		t.Errorf("content rules in mode tcp: %v", err)
	}
}
