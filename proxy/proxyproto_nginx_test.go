package proxy

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startNginx runs nginx on loopback with `listen ... proxy_protocol`,
// logging $proxy_protocol_addr; it returns the address and the log path.
func startNginx(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	logPath := filepath.Join(dir, "access.log")
	runNginx(t, dir, addr, fmt.Sprintf(`  log_format pp '$proxy_protocol_addr $proxy_protocol_port "$request"';
  access_log %[1]s pp;
  server {
    listen %[2]s proxy_protocol;
    location / { return 200 "ok\n"; }
  }
`, logPath, addr))
	return addr, logPath
}

// TestSendProxyToNginx: the client named by an incoming v2 header reaches
// nginx's $proxy_protocol_addr through send-proxy v1 and v2, in mode http
// and tcp.
func TestSendProxyToNginx(t *testing.T) {
	nginx, logPath := startNginx(t)
	for i, tc := range []struct {
		mode Mode
		ver  int
	}{{ModeHTTP, SendProxyV1}, {ModeHTTP, SendProxyV2}, {ModeTCP, SendProxyV1}, {ModeTCP, SendProxyV2}} {
		cfg := testConfig(Server{Name: "nginx", Address: nginx, Weight: 1, SendProxy: tc.ver})
		cfg.Frontends[0].Mode, cfg.Backends[0].Mode = tc.mode, tc.mode
		cfg.Frontends[0].AcceptProxy = &AcceptProxy{}
		_, addr, _ := startEngine(t, cfg)
		client := fmt.Sprintf("192.0.2.%d:%d", 10+i, 40000+i)
		rc := dialRaw(t, addr)
		rc.c.Write(v2Header(t, client, "198.51.100.1:80"))
		path := fmt.Sprintf("/case%d", i)
		rc.send("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if res, body := rc.resp("GET"); res.StatusCode != 200 || body != "ok\n" {
			t.Fatalf("%v v%d: %d %q", tc.mode, tc.ver, res.StatusCode, body)
		}
		ap := netip.MustParseAddrPort(client)
		want := fmt.Sprintf("%s %d \"GET %s HTTP/1.1\"", ap.Addr(), ap.Port(), path)
		waitFor(t, "the nginx log line "+want, func() bool {
			b, _ := os.ReadFile(logPath)
			return strings.Contains(string(b), want)
		})
	}
}

// runNginx runs nginx in the foreground, one process, with prefix dir and
// an http block made of httpConf (its temp paths under dir), until the
// test ends, and waits until addr accepts.
func runNginx(t *testing.T, dir, addr, httpConf string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin = "/usr/sbin/nginx"; func() bool { _, err := os.Stat(bin); return err != nil }() {
			skipOrFail(t, "nginx not installed (apt-get install nginx, or make deps)")
		}
	}
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
%[2]s}
`, dir, httpConf)
	cfgPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", cfgPath, "-p", dir)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if i == 50 {
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not start: %s %s", out, errLog)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
