package importer

import (
	"strings"
	"testing"
	"time"
)

const rulesCfg = `defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout tarpit 2s

userlist ops
    user alice insecure-password s3cret
    user bob password $6$hash

frontend www
    bind :80
    stick-table type ip size 100k expire 30s store http_req_rate(10s),conn_cur,gpc0 peers mypeers
    acl abuse sc_http_req_rate(0) gt 20
    acl too_many src_conn_cur ge 10
    tcp-request connection reject if too_many
    tcp-request connection track-sc1 src table per_ip
    tcp-request content accept
    http-request track-sc0 src
    http-request deny deny_status 429 if abuse
    http-request deny if { path_beg /admin } !{ src 10.0.0.0/8 }
    http-request auth realm Ops unless { http_auth(ops) }
    http-request redirect scheme https code 301 unless { hdr(x-forwarded-proto) https }
    http-request redirect prefix https://example.com drop-query
    http-request return status 200 content-type text/plain string ok if { path /healthz }
    http-request set-header X-Forwarded-Proto https
    http-request set-header X-Client %[src]
    http-request set-var(txn.host) req.hdr(host)
    http-request tarpit if { var(txn.host) -m str evil.example }
    http-request capture req.hdr(Host) len 10
    http-request normalize-uri path-merge-slashes
    http-response set-header Strict-Transport-Security max-age=63072000
    http-response del-header Server
    http-response set-status 200 if { status 404 }
    default_backend app

backend app
    server a 127.0.0.1:8000

backend per_ip
    stick-table type ip size 1m expire 10m store conn_cur,conn_rate(10s)
`

func TestImportRules(t *testing.T) {
	r := importString(t, rulesCfg)
	fe := r.Config.Frontends[0]
	if st := fe.StickTable; st == nil || st.Size != 102400 || st.Expire != 30*time.Second || strings.Join(st.Store, ",") != "http_req_rate(10s),conn_cur" {
		t.Fatalf("stick table %+v", fe.StickTable)
	}
	if st := r.Config.Backends[1].StickTable; st == nil || st.Size != 1<<20 {
		t.Fatalf("backend table %+v", st)
	}
	if fe.TCPRequest == nil || len(fe.TCPRequest.Connection) != 2 || fe.TCPRequest.Connection[1].Table != "per_ip" {
		t.Fatalf("tcp rules %+v", fe.TCPRequest)
	}
	var got []string
	for _, hr := range fe.HTTPRequest {
		got = append(got, hr.Action+"|"+hr.If+"|"+hr.Unless)
	}
	want := []string{
		"track-sc0||",
		"deny|abuse|",
		"deny|{ path_beg /admin } !{ src 10.0.0.0/8 }|",
		"auth||",
		"redirect||{ hdr(x-forwarded-proto) https }",
		"return|{ path /healthz }|",
		"set-header||",
		"set-var||",
		"tarpit|{ var(txn.host) evil.example }|",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("http_request:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if fe.HTTPRequest[1].DenyStatus != 429 || fe.HTTPRequest[3].Userlist != "ops" || fe.HTTPRequest[3].Realm != "Ops" || fe.HTTPRequest[4].Code != 301 || fe.HTTPRequest[5].String != "ok" {
		t.Errorf("rule details %+v", fe.HTTPRequest)
	}
	if len(fe.HTTPResponse) != 2 || fe.NormalizeURI != "rewrite" || fe.Timeouts.Tarpit != 0 && r.Config.Defaults.Timeouts.Tarpit != 2*time.Second {
		t.Errorf("response rules %+v normalize %q", fe.HTTPResponse, fe.NormalizeURI)
	}
	if len(r.Config.Userlists) != 1 || r.Config.Userlists[0].Users[0] != "alice:s3cret" || len(r.Config.Userlists[0].Users) != 1 {
		t.Errorf("userlists %+v", r.Config.Userlists)
	}
	// What lbd cannot express is a WARNING naming it.
	text := warningsText(r)
	for _, w := range []string{"user bob", "store gpc0", "peers mypeers", "tcp-request content rules in mode http", "drop-query", "X-Client", "%[", "http-request capture", "http-response set-status"} {
		if !strings.Contains(text, w) {
			t.Errorf("no warning naming %q:\n%s", w, text)
		}
	}
}

func TestImportRulesInTCPModeWarned(t *testing.T) {
	r := importString(t, "frontend f\n bind :80\n http-request deny\n default_backend b\nbackend b\n server s 127.0.0.1:1\n")
	if len(r.Config.Frontends[0].HTTPRequest) != 0 || !strings.Contains(warningsText(r), "need mode http") {
		t.Errorf("tcp-mode rules kept or not warned: %s", warningsText(r))
	}
}

func TestImportTCPContentRules(t *testing.T) {
	r := importString(t, "frontend db\n mode tcp\n bind :5432\n stick-table type ip size 1k expire 1m store conn_cur\n tcp-request inspect-delay 5s\n tcp-request content track-sc0 src\n tcp-request content reject if { sc0_conn_cur gt 10 }\n tcp-request content accept if { req.ssl_hello_type 1 }\n default_backend pg\nbackend pg\n mode tcp\n server a 127.0.0.1:5433\n")
	tr := r.Config.Frontends[0].TCPRequest
	if tr == nil || len(tr.Content) != 2 || tr.Content[1].If != "{ sc0_conn_cur gt 10 }" {
		t.Fatalf("content rules %+v", tr)
	}
	if !strings.Contains(warningsText(r), "ssl_hello_type") {
		t.Errorf("payload fetch not warned: %s", warningsText(r))
	}
}
