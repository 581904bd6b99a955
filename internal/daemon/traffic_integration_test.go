package daemon

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAcceptProxyPrivacyEndToEnd: lbd.yaml with accept_proxy, log_privacy
// and log_format; the backend sees the PROXY header's client in
// X-Forwarded-For, the syslog line shows it masked.
func TestAcceptProxyPrivacyEndToEnd(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("X-Forwarded-For"))
	}))
	defer be.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	front := freeAddr(t)
	cfg := fmt.Sprintf(`global:
  control_socket: %%SOCK%%
  log: [{address: "%s", facility: local0}]
sysctl:
  apply: false
defaults:
  options: {forwardfor: {}}
frontends:
  - name: web
    bind: ["%s"]
    default_backend: app
    accept_proxy: {}
    log_privacy: {mode: mask}
    log_format: "%%ci:%%cp %%ft %%ST %%{+Q}r"
backends:
  - name: app
    servers:
      - {name: s1, address: "%s"}
`, udp.LocalAddr(), front, be.Listener.Addr())
	startDaemon(t, cfg)
	c, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "PROXY TCP4 192.0.2.77 198.51.100.1 51234 80\r\nGET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if string(body) != "192.0.2.77" {
		t.Errorf("X-Forwarded-For %q, want the PROXY header's client", body)
	}
	udp.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	for {
		n, _, err := udp.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no access-log line: %v", err)
		}
		line := string(buf[:n])
		if !strings.Contains(line, `"GET /x HTTP/1.1"`) {
			continue
		}
		if !strings.HasSuffix(line, `192.0.2.0:0 web 200 "GET /x HTTP/1.1"`) || strings.Contains(line, "192.0.2.77") {
			t.Errorf("log line %q", line)
		}
		return
	}
}
