package proxy

import (
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/certs"
)

// TestServerTLSVerifyHost: verify_host (HAProxy's verifyhost) is the name
// the server's certificate is checked against, independently of the SNI:
// a certificate for a.test with verify host a.test and no SNI serves
// (200); verify host b.test is refused (503 SC) with the reason logged;
// a per-request SNI is sent but the certificate is still checked against
// the verify host.
func TestServerTLSVerifyHost(t *testing.T) {
	o := newTLSOrigin(t, nil, "a.test")
	cfg := testConfig(tlsSrv("ok", o.addr, certs.ClientOptions{Verify: true, CAFile: o.caFile, VerifyHost: "a.test"}, SNI{}))
	cfg.Backends = append(cfg.Backends,
		testBackendCfg("wrong", tlsSrv("bad", o.addr, certs.ClientOptions{Verify: true, CAFile: o.caFile, VerifyHost: "b.test"}, SNI{})),
		testBackendCfg("host", tlsSrv("h", o.addr, certs.ClientOptions{Verify: true, CAFile: o.caFile, VerifyHost: "a.test"}, SNI{From: SNIHost})),
	)
	cfg.Backends[1].Retries = 0
	fe := &cfg.Frontends[0]
	fe.ACLs = []ACL{{Name: "w", Criterion: "path_beg", Values: []string{"/wrong"}}, {Name: "h", Criterion: "path_beg", Values: []string{"/host"}}}
	fe.UseBackends = []UseBackend{{Backend: "wrong", If: "w"}, {Backend: "host", If: "h"}}
	e, addr, sink, logs := startEngineLog(t, cfg)

	rc := dialRaw(t, addr)
	if res, body := rc.get("/"); res.StatusCode != 200 || body != "tls hello " {
		t.Fatalf("verify host a.test, no SNI: %d %q", res.StatusCode, body)
	}
	rc = dialRaw(t, addr)
	if res, _ := rc.get("/wrong"); res.StatusCode != 503 {
		t.Fatalf("verify host b.test: status %d, want 503", res.StatusCode)
	}
	if r := sink.last(t); r.Termination[:2] != "SC" || r.Server != "bad" {
		t.Fatalf("verify host b.test: log %q server %q", r.Termination, r.Server)
	}
	waitFor(t, "the handshake failure log line", func() bool {
		l := logs.String()
		return strings.Contains(l, "SSL handshake failure") && strings.Contains(l, "server=bad") &&
			strings.Contains(l, "certificate verify failed") && strings.Contains(l, "b.test")
	})
	if st := serverStatus(t, e, "wrong", "bad"); st.TLSFailureReasons["bad_server_cert"] != 1 {
		t.Fatalf("verify host b.test stats: %+v", st)
	}
	// Per-request SNI: the Host is sent, the certificate checked against a.test.
	rc = dialRaw(t, addr)
	rc.send("GET /host HTTP/1.1\r\nHost: other.test\r\n\r\n")
	if res, body := rc.resp("GET"); res.StatusCode != 200 || body != "tls hello other.test" {
		t.Fatalf("sni other.test, verify host a.test: %d %q", res.StatusCode, body)
	}
}
