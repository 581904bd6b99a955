package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/acme/acmetest"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/lab"
	"github.com/lbd-ha/lbd/internal/pair"
)

const acmeNetnsConfig = `global:
  control_socket: %SOCK%
sysctl:
  apply: false
vrrp:
  instances:
    - name: VI_1
      interface: lab0
      virtual_router_id: 63
      priority: %PRIO%
      advert_interval: 100ms
      vips:
        - address: %VIP%/24
frontends:
  - name: web
    bind: ["*:80"]
    default_backend: app
backends:
  - name: app
    servers:
      - {name: web01, address: "127.0.0.1:8081"}
pair:
  listen: %LISTEN%
  state_dir: %STATE%
  interval: 200ms
  timeout: 300ms
tls:
  acme:
    directory: https://%CA%:14000/dir
    ca: %CAFILE%
    lock_ttl: 3s
    certificates: [%NAMES%]
`

// TestNetnsACMEPair: two lbd nodes (VRRP, paired) and Pebble in a third
// namespace whose DNS answers every name with the VIP. The pair gets one
// certificate with one order, both nodes hold the same file. Then a new
// name is added on both; the node holding its order lock is killed while
// ordering, and the survivor completes the order once the lease expires.
func TestNetnsACMEPair(t *testing.T) {
	lab.Require(t)
	acmetest.NeedTool(t, "pebble", "apt-get install pebble (or make test-tools)")
	acmetest.NeedTool(t, "pebble-challtestsrv", "apt-get install pebble (or make test-tools)")
	bin := buildLBD(t)
	l := lab.New(t, lab.Config{Nodes: []string{"a", "b", "ca"}})
	dir := t.TempDir()
	na, nb, nca := l.Node("a"), l.Node("b"), l.Node("ca")
	vip := "192.0.2.102"
	caIP := nca.Addr.Addr().String()

	// The CA: Pebble validating through the VIP.
	caPEM, crt, key := acmetest.ServerCert(t, net.ParseIP(caIP))
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, caPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "pebble.crt"), crt, 0o600)
	os.WriteFile(filepath.Join(dir, "pebble.key"), key, 0o600)
	pcfg, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": "0.0.0.0:14000", "managementListenAddress": "127.0.0.1:15000",
		"certificate": filepath.Join(dir, "pebble.crt"), "privateKey": filepath.Join(dir, "pebble.key"),
		"httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false}})
	os.WriteFile(filepath.Join(dir, "pebble.json"), pcfg, 0o600)
	nca.Start(t, "pebble-challtestsrv", "-dns01", "127.0.0.1:8053", "-http01", "", "-https01", "", "-tlsalpn01", "",
		"-management", "127.0.0.1:8055", "-defaultIPv4", vip, "-defaultIPv6", "")
	peb := nca.Start(t, "env", "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0",
		"pebble", "-config", filepath.Join(dir, "pebble.json"), "-dnsserver", "127.0.0.1:8053")
	orders := func() int { return strings.Count(peb.Output(), "Added order") }
	// Pebble generates its CA keys before it listens (seconds on a busy
	// machine): an lbd started earlier fails its first order and certmagic
	// retries only after a backoff longer than the waits below.
	if !lab.WaitFor(30*time.Second, func() bool { return strings.Contains(peb.Output(), "ACME directory available") }) {
		t.Fatalf("pebble did not start:\n%s", peb.Output())
	}

	// The pair.
	addr := func(n *lab.Node) string { return n.Addr.Addr().String() + ":7946" }
	ids := map[string]*pair.Identity{}
	for _, n := range []*lab.Node{na, nb} {
		id, _, err := pair.LoadOrCreateIdentity(pair.Dir(filepath.Join(dir, n.Name)), n.Name)
		if err != nil {
			t.Fatal(err)
		}
		ids[n.Name] = id
	}
	for _, p := range [][2]*lab.Node{{na, nb}, {nb, na}} {
		if err := pair.SavePin(pair.Dir(filepath.Join(dir, p[0].Name)), pair.Pin{Fingerprint: ids[p[1].Name].Fingerprint, Address: addr(p[1])}); err != nil {
			t.Fatal(err)
		}
	}
	writeCfg := func(n *lab.Node, prio int, names string) (string, string) {
		sock := filepath.Join(dir, n.Name+".sock")
		cfg := strings.NewReplacer("%SOCK%", sock, "%PRIO%", fmt.Sprint(prio), "%VIP%", vip, "%LISTEN%", addr(n),
			"%STATE%", filepath.Join(dir, n.Name), "%CA%", caIP, "%CAFILE%", caFile, "%NAMES%", names).Replace(acmeNetnsConfig)
		path := filepath.Join(dir, n.Name+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return path, sock
	}
	cfgA, sockA := writeCfg(na, 150, "[www.lbd.test]")
	cfgB, sockB := writeCfg(nb, 100, "[www.lbd.test]")
	start := time.Now()
	procs := map[string]*lab.Process{"a": na.Start(t, bin, "run", "-c", cfgA), "b": nb.Start(t, bin, "run", "-c", cfgB)}
	clients := map[string]*control.Client{"a": {Socket: sockA, Timeout: 5 * time.Second}, "b": {Socket: sockB, Timeout: 5 * time.Second}}
	file := func(node, name string) string {
		_, certs := ACMEDirs(filepath.Join(dir, node))
		return filepath.Join(certs, name+".pem")
	}
	if !lab.WaitFor(60*time.Second, func() bool {
		_, ea := os.Stat(file("a", "www.lbd.test"))
		_, eb := os.Stat(file("b", "www.lbd.test"))
		return ea == nil && eb == nil
	}) {
		t.Fatalf("no certificate on both nodes\n%s\n%s\n%s", procs["a"].Output(), procs["b"].Output(), peb.Output())
	}
	t.Logf("both nodes have the certificate %v after start", time.Since(start).Round(time.Millisecond))
	if leafSum(t, file("a", "www.lbd.test")) != leafSum(t, file("b", "www.lbd.test")) {
		t.Fatal("the nodes' certificates differ")
	}
	time.Sleep(time.Second)
	if n := orders(); n != 1 {
		t.Fatalf("pebble saw %d orders, want 1", n)
	}

	// A new name on both nodes; kill the one that holds its lock.
	writeCfg(na, 150, "[www.lbd.test], [new.lbd.test]")
	writeCfg(nb, 100, "[www.lbd.test], [new.lbd.test]")
	for _, c := range clients {
		if r, err := c.Reload(context.Background()); err != nil || !r.OK {
			t.Fatalf("reload: %+v %v", r, err)
		}
	}
	var holder string
	if !lab.WaitFor(20*time.Second, func() bool {
		for node, c := range clients {
			st, err := c.ACMEStatus(context.Background())
			if err != nil {
				continue
			}
			for _, cert := range st.Certificates {
				if cert.Name == "new.lbd.test" && cert.LockHolder != "" && cert.LockHolder == st.Node && cert.File == "" {
					holder = node
					return true
				}
			}
		}
		return false
	}) {
		t.Fatalf("no node seen holding the lock for new.lbd.test while ordering\n%s", peb.Output())
	}
	procs[holder].Signal(os.Kill)
	killed := time.Now()
	survivor := map[string]string{"a": "b", "b": "a"}[holder]
	if !lab.WaitFor(60*time.Second, func() bool {
		_, err := os.Stat(file(survivor, "new.lbd.test"))
		return err == nil
	}) {
		t.Fatalf("%s did not complete the order after %s was killed\n%s\n%s", survivor, holder, procs[survivor].Output(), peb.Output())
	}
	t.Logf("%s killed holding the order lock; %s completed the order %v later (lease 3s); pebble orders %d",
		holder, survivor, time.Since(killed).Round(time.Millisecond), orders())
}
