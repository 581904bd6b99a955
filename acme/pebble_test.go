package acme

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pebbleLab is Pebble (Let's Encrypt's test CA) and its DNS test server
// on loopback: every name resolves to 127.0.0.1, where the test answers
// HTTP-01 on httpPort from the nodes' stores.
type pebbleLab struct {
	dir      string
	roots    *x509.CertPool
	httpPort int
	dirURL   string

	mu  sync.Mutex
	out bytes.Buffer // pebble's log
}

func needTool(t *testing.T, name, remedy string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: %s", name, remedy)
		}
		t.Skipf("%s not found: %s", name, remedy)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startPebble(t *testing.T) *pebbleLab {
	t.Helper()
	needTool(t, "pebble", "apt-get install pebble (or make test-tools)")
	needTool(t, "pebble-challtestsrv", "apt-get install pebble (or make test-tools)")
	lab := &pebbleLab{dir: t.TempDir(), httpPort: freePort(t)}
	caPEM, crtPEM, keyPEM := localhostCert(t)
	os.WriteFile(filepath.Join(lab.dir, "cert.pem"), crtPEM, 0o600)
	os.WriteFile(filepath.Join(lab.dir, "key.pem"), keyPEM, 0o600)
	lab.roots = x509.NewCertPool()
	lab.roots.AppendCertsFromPEM(caPEM)
	apiPort, mgmtPort, dnsPort, ctsMgmt := freePort(t), freePort(t), freePort(t), freePort(t)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": fmt.Sprintf("127.0.0.1:%d", apiPort), "managementListenAddress": fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate": filepath.Join(lab.dir, "cert.pem"), "privateKey": filepath.Join(lab.dir, "key.pem"),
		"httpPort": lab.httpPort, "tlsPort": freePort(t), "ocspResponderURL": "", "externalAccountBindingRequired": false,
	}}
	b, _ := json.Marshal(cfg)
	os.WriteFile(filepath.Join(lab.dir, "pebble.json"), b, 0o600)

	cts := exec.Command("pebble-challtestsrv", "-dns01", fmt.Sprintf("127.0.0.1:%d", dnsPort), "-http01", "", "-https01", "",
		"-tlsalpn01", "", "-management", fmt.Sprintf("127.0.0.1:%d", ctsMgmt), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	peb := exec.Command("pebble", "-config", filepath.Join(lab.dir, "pebble.json"), "-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort))
	peb.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0", "PEBBLE_AUTHZREUSE=0")
	pr, pw, _ := os.Pipe()
	peb.Stdout, peb.Stderr = pw, pw
	for _, c := range []*exec.Cmd{cts, peb} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	}
	pw.Close()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lab.mu.Lock()
			lab.out.WriteString(sc.Text() + "\n")
			lab.mu.Unlock()
		}
	}()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: lab.roots}}, Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := hc.Get(lab.Directory(apiPort))
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not ready: %v\n%s", err, lab.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	lab.dirURL = lab.Directory(apiPort)
	return lab
}

func (lab *pebbleLab) Directory(port int) string {
	return fmt.Sprintf("https://127.0.0.1:%d/dir", port)
}

func (lab *pebbleLab) log() string {
	lab.mu.Lock()
	defer lab.mu.Unlock()
	return lab.out.String()
}

// orders counts the orders Pebble created.
func (lab *pebbleLab) orders() int { return strings.Count(lab.log(), "Added order") }

// serveChallenges answers HTTP-01 on 127.0.0.1:httpPort as lbd's frontends
// do, from every store given; an answer that a store lacks or that differs
// between them is counted in missing (the token must be on both nodes
// before the CA validates).
func (lab *pebbleLab) serveChallenges(t *testing.T, missing *atomic.Int64, stores ...*Store) {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", lab.httpPort))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.URL.Path, ChallengePath)
		if !ok {
			http.NotFound(w, r)
			return
		}
		var answers []string
		for _, s := range stores {
			if ka, ok := s.HTTPChallenge(r.Host, token); ok {
				answers = append(answers, ka)
			}
		}
		if len(answers) == 0 {
			http.NotFound(w, r)
			return
		}
		if len(answers) != len(stores) || answers[0] != answers[len(answers)-1] {
			missing.Add(1)
		}
		w.Write([]byte(answers[0]))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

func localhostCert(t *testing.T) (caPEM, crtPEM, keyPEM []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lbd test pebble root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func (lab *pebbleLab) manager(t *testing.T, s *Store, names ...string) *Manager {
	t.Helper()
	m, err := New(Options{Store: s, Directory: lab.dirURL, Email: "ops@lbd.test", Roots: lab.roots,
		Certificates: [][]string{names}, HTTPPort: lab.httpPort})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	return m
}

func waitFile(t *testing.T, file string, d time.Duration, lab *pebbleLab) []byte {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if b, err := os.ReadFile(file); err == nil {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written in %v; pebble log:\n%s", file, d, lab.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func leafFingerprint(t *testing.T, file string) string {
	t.Helper()
	leaf := readLeaf(file)
	if leaf == nil {
		t.Fatalf("%s: no certificate", file)
	}
	return fmt.Sprintf("%x", sha256.Sum256(leaf.Raw))
}

// TestPebblePairIssuesOnce: both nodes manage the same name; the CA sees
// one order, both nodes end with the same certificate file, and the
// HTTP-01 token was on both nodes when the CA asked.
func TestPebblePairIssuesOnce(t *testing.T) {
	lab := startPebble(t)
	p := newPair(t, 2*time.Second)
	var missing atomic.Int64
	lab.serveChallenges(t, &missing, p.a, p.b)
	start := time.Now()
	ma, mb := lab.manager(t, p.a, "www.lbd.test"), lab.manager(t, p.b, "www.lbd.test")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := ma.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := mb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fa, fb := filepath.Join(p.a.opts.CertDir, "www.lbd.test.pem"), filepath.Join(p.b.opts.CertDir, "www.lbd.test.pem")
	waitFile(t, fa, 30*time.Second, lab)
	waitFile(t, fb, 5*time.Second, lab)
	t.Logf("both nodes have the certificate after %v", time.Since(start).Round(time.Millisecond))
	if a, b := leafFingerprint(t, fa), leafFingerprint(t, fb); a != b {
		t.Fatalf("nodes differ: %s vs %s", a, b)
	}
	for _, f := range []string{fa, fb} {
		if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, fi.Mode())
		}
		if _, err := tls.LoadX509KeyPair(f, f); err != nil {
			t.Errorf("%s is not chain+key: %v", f, err)
		}
	}
	time.Sleep(500 * time.Millisecond) // the other node's turn with the lock
	if n := lab.orders(); n != 1 {
		t.Fatalf("pebble saw %d orders, want 1", n)
	}
	if missing.Load() != 0 {
		t.Fatalf("%d challenge requests found the token on one node only", missing.Load())
	}
	st := mb.Status()
	if len(st) != 1 || st[0].State != "valid" || st[0].NotAfter.IsZero() {
		t.Fatalf("status: %+v", st)
	}
}

// TestPebbleOrderingNodeDies: node a holds the order lock and dies (no
// refresh, link gone); b, now master, takes the lock when the lease
// expires and completes the order; a gets the certificate when the link
// returns (Sync).
func TestPebbleOrderingNodeDies(t *testing.T) {
	lab := startPebble(t)
	ttl := 2 * time.Second
	p := newPair(t, ttl)
	var missing atomic.Int64
	lab.serveChallenges(t, &missing, p.b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := p.a.Lock(ctx, "issue_cert_dies.lbd.test"); err != nil {
		t.Fatal(err)
	}
	p.a.mu.Lock()
	close(p.a.leases["issue_cert_dies.lbd.test"].stop) // a is killed
	p.a.mu.Unlock()
	p.setDown(true)
	p.bMaster.Store(true)
	start := time.Now()
	mb := lab.manager(t, p.b, "dies.lbd.test")
	if err := mb.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fb := filepath.Join(p.b.opts.CertDir, "dies.lbd.test.pem")
	waitFile(t, fb, 30*time.Second, lab)
	took := time.Since(start)
	t.Logf("b completed the order %v after a died (lease %v)", took.Round(time.Millisecond), ttl)
	if took < ttl/2 {
		t.Fatalf("b did not wait for a's lease: %v", took)
	}
	if n := lab.orders(); n != 1 {
		t.Fatalf("pebble saw %d orders, want 1", n)
	}
	p.setDown(false)
	if _, err := p.b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	fa := filepath.Join(p.a.opts.CertDir, "dies.lbd.test.pem")
	if _, err := os.Stat(fa); err != nil {
		t.Fatalf("a has no certificate after the link returned: %v", err)
	}
	if leafFingerprint(t, fa) != leafFingerprint(t, fb) {
		t.Fatal("a and b differ after sync")
	}
}
