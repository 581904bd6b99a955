package proxy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/certs"
	"github.com/lbd-ha/lbd/certs/certstest"
)

// startNginxTLS runs nginx serving HTTPS on loopback for www.example.test
// with a fresh self-signed certificate, logging per request the
// connection number, the SNI and whether the session was resumed. It
// returns the address, the certificate (as a ca-file) and the log path.
func startNginxTLS(t *testing.T) (addr, ca, logPath string) {
	t.Helper()
	dir := t.TempDir()
	ca = filepath.Join(dir, "site.pem")
	certstest.Write(t, ca, certstest.Spec{Names: []string{"www.example.test"}})
	addr = freeAddr(t)
	logPath = filepath.Join(dir, "access.log")
	runNginx(t, dir, addr, fmt.Sprintf(`  log_format tls '$connection $ssl_server_name $ssl_session_reused $ssl_protocol "$request"';
  access_log %[1]s tls;
  keepalive_requests 1000;
  server {
    listen %[2]s ssl;
    server_name www.example.test;
    ssl_certificate %[3]s;
    ssl_certificate_key %[3]s;
    ssl_session_cache shared:lbdtest:1m;
    location / { return 200 "nginx tls ok\n"; }
  }
`, logPath, addr, ca))
	return addr, ca, logPath
}

// nginxLog returns the access log lines once it has n of them.
func nginxLog(t *testing.T, path string, n int) [][]string {
	t.Helper()
	var lines [][]string
	waitFor(t, fmt.Sprintf("%d nginx log lines", n), func() bool {
		b, _ := os.ReadFile(path)
		lines = nil
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				lines = append(lines, strings.Fields(l))
			}
		}
		return len(lines) >= n
	})
	return lines
}

// TestServerTLSNginx: nginx as a real HTTPS server behind lbd: verify
// required with its certificate as ca-file and sni str(): keep-alive
// requests share one nginx connection (one handshake); with server-close
// each request is a new connection that resumes the session; a wrong SNI
// fails verification with 503.
func TestServerTLSNginx(t *testing.T) {
	nginx, ca, logPath := startNginxTLS(t)
	o := certs.ClientOptions{Verify: true, CAFile: ca}
	cfg := testConfig(tlsSrv("ngx", nginx, o, SNI{From: SNIFixed, Name: "www.example.test"}))
	cfg.Backends = append(cfg.Backends, testBackendCfg("close", tlsSrv("ngx2", nginx, o, SNI{From: SNIFixed, Name: "www.example.test"})),
		testBackendCfg("wrong", tlsSrv("ngx3", nginx, o, SNI{From: SNIFixed, Name: "other.test"})))
	cfg.Backends[1].HTTPServerClose = true
	cfg.Backends[2].Retries = 0
	fe := &cfg.Frontends[0]
	fe.ACLs = []ACL{{Name: "c", Criterion: "path_beg", Values: []string{"/close"}}, {Name: "w", Criterion: "path_beg", Values: []string{"/wrong"}}}
	fe.UseBackends = []UseBackend{{Backend: "close", If: "c"}, {Backend: "wrong", If: "w"}}
	e, addr, _ := startEngine(t, cfg)

	const n = 10
	rc := dialRaw(t, addr)
	for i := 0; i < n; i++ {
		res, body := rc.get("/ka")
		if res.StatusCode != 200 || body != "nginx tls ok\n" {
			t.Fatalf("keep-alive %d: %d %q", i, res.StatusCode, body)
		}
	}
	lines := nginxLog(t, logPath, n)
	for _, l := range lines {
		if l[0] != lines[0][0] || l[1] != "www.example.test" {
			t.Fatalf("keep-alive requests on several connections or wrong SNI: %q", lines)
		}
	}
	if st := serverStatus(t, e, "be", "ngx"); st.TLSHandshakes != 1 {
		t.Fatalf("keep-alive: %d handshakes", st.TLSHandshakes)
	}
	t.Logf("nginx keep-alive: %d requests on nginx connection %s, %d handshake", n, lines[0][0], 1)

	for i := 0; i < 4; i++ {
		if res, _ := rc.get("/close"); res.StatusCode != 200 {
			t.Fatalf("server-close %d: %d", i, res.StatusCode)
		}
	}
	lines = nginxLog(t, logPath, n+4)[n:]
	conns := map[string]bool{}
	resumed := 0
	for _, l := range lines {
		conns[l[0]] = true
		if l[2] == "r" {
			resumed++
		}
	}
	if len(conns) != 4 || resumed < 3 {
		t.Fatalf("server-close: %d connections, %d resumed: %q", len(conns), resumed, lines)
	}
	t.Logf("nginx server-close: 4 requests, 4 connections, %d resumed", resumed)

	res, _ := rc.get("/wrong")
	if res.StatusCode != 503 {
		t.Fatalf("wrong SNI: %d", res.StatusCode)
	}
}
