package daemon

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/certs/certstest"
	"github.com/lbd-ha/lbd/internal/pair"
)

// pairTLSConfig is pairSyncConfig with an HTTPS frontend; each node binds
// its own loopback port.
const pairTLSConfig = `global:
  control_socket: %SOCK%
sysctl:
  apply: false
frontends:
  - name: shop
    bind:
      - address: "%TLS%"
        ssl:
          crt: ["%CRT%"]
    default_backend: app
backends:
  - name: app
    servers:
      - {name: web01, address: "%B1%"}
pair:
  listen: %LISTEN%
  state_dir: %STATE%
  interval: 100ms
  timeout: 300ms
`

// tlsRequest makes one HTTPS request on a fresh connection with the
// client's session cache and reports whether the session resumed. Reading
// the answer takes the server's TLS 1.3 session ticket.
func tlsRequest(t *testing.T, addr string, client *tls.Config) bool {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, client)
	if err != nil {
		t.Fatalf("tls dial %s: %v", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: shop.example.test\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil || !strings.HasPrefix(string(b), "HTTP/1.1 200") {
		t.Fatalf("https request to %s: %v %q", addr, err, b[:min(len(b), 80)])
	}
	return c.ConnectionState().DidResume
}

// TestPairTicketsResumeOnPeer: two daemons with HTTPS frontends and a pair
// link share their session ticket keys, so a TLS session made on one node
// resumes on the other (what a client sees after a failover).
func TestPairTicketsResumeOnPeer(t *testing.T) {
	dir := t.TempDir()
	crt := filepath.Join(dir, "shop.pem")
	certstest.Write(t, crt, certstest.Spec{Names: []string{"shop.example.test"}})
	be := newBackend(t, "web01")
	stA, stB, addrA, addrB, idA, idB := pinnedPair(t)
	tlsA, tlsB := freeAddr(t), freeAddr(t)
	conf := func(tlsAddr, listen, state string) string {
		return strings.NewReplacer("%TLS%", tlsAddr, "%CRT%", crt, "%B1%", be.srv.Listener.Addr().String(),
			"%LISTEN%", listen, "%STATE%", state).Replace(pairTLSConfig)
	}
	a := startDaemon(t, conf(tlsA, addrA, stA))
	b := startDaemon(t, conf(tlsB, addrB, stB))
	waitPair(t, a, b)
	if !waitFor(5*time.Second, func() bool {
		ta, tb := a.d.Status().Pair.Tickets, b.d.Status().Pair.Tickets
		return ta != nil && tb != nil && ta.Shared && tb.Shared
	}) {
		t.Fatalf("ticket keys not shared: A %+v, B %+v", a.d.Status().Pair.Tickets, b.d.Status().Pair.Tickets)
	}
	ta, tb := a.d.Status().Pair.Tickets, b.d.Status().Pair.Tickets
	wantA := "follower"
	if pair.TicketOwner(idA.Fingerprint, idB.Fingerprint) {
		wantA = "owner"
	}
	if ta.Role != wantA || tb.Role == ta.Role || ta.KeyID != tb.KeyID || ta.KeyID == "" {
		t.Fatalf("ticket status: A %+v, B %+v (A should be %s)", ta, tb, wantA)
	}
	js, _ := json.Marshal(a.d.Status())
	if !strings.Contains(string(js), `"tickets":{"key_id":"`+ta.KeyID+`"`) || strings.Contains(string(js), `"keys"`) {
		t.Fatalf("status JSON tickets part: %s", js)
	}

	client := &tls.Config{ServerName: "shop.example.test", InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	if tlsRequest(t, tlsA, client) {
		t.Fatal("first connection resumed")
	}
	if !tlsRequest(t, tlsB, client) {
		t.Fatal("a TLS session from node A did not resume on node B")
	}
	c2 := &tls.Config{ServerName: "shop.example.test", InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	tlsRequest(t, tlsB, c2)
	if !tlsRequest(t, tlsA, c2) {
		t.Fatal("a TLS session from node B did not resume on node A")
	}

	// Failover: A goes away; B, its link down, rotates on its own again
	// but a session made on A still resumes on B.
	c3 := &tls.Config{ServerName: "shop.example.test", InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(8)}
	tlsRequest(t, tlsA, c3)
	a.stop()
	if !waitFor(5*time.Second, func() bool {
		tk := b.d.Status().Pair.Tickets
		return tk != nil && tk.Role == "local" && !tk.Shared
	}) {
		t.Fatalf("B's tickets with A stopped: %+v", b.d.Status().Pair.Tickets)
	}
	if !tlsRequest(t, tlsB, c3) {
		t.Fatal("after A stopped, a TLS session from A did not resume on B")
	}
}
