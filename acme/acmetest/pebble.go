// Package acmetest runs Pebble (Let's Encrypt's test CA) and its DNS test
// server on loopback for tests: every name resolves to 127.0.0.1, where
// the test answers HTTP-01 on HTTPPort.
package acmetest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
	"testing"
	"time"
)

// pebbleLab is Pebble (Let's Encrypt's test CA) and its DNS test server
// on loopback: every name resolves to 127.0.0.1, where the test answers
// HTTP-01 on httpPort from the nodes' stores.
type Pebble struct {
	Dir      string
	Roots    *x509.CertPool
	CAFile   string // Roots as a PEM file
	HTTPPort int    // where the CA validates HTTP-01
	TLSPort  int    // where the CA validates TLS-ALPN-01
	DirURL   string // the ACME directory

	ca *exec.Cmd

	mu  sync.Mutex
	out bytes.Buffer // pebble's log
}

func NeedTool(t *testing.T, name, remedy string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: %s", name, remedy)
		}
		t.Skipf("%s not found: %s", name, remedy)
	}
}

func FreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func Start(t *testing.T) *Pebble {
	t.Helper()
	NeedTool(t, "pebble", "apt-get install pebble (or make test-tools)")
	NeedTool(t, "pebble-challtestsrv", "apt-get install pebble (or make test-tools)")
	lab := &Pebble{Dir: t.TempDir(), HTTPPort: FreePort(t), TLSPort: FreePort(t)}
	caPEM, crtPEM, keyPEM := ServerCert(t, net.ParseIP("127.0.0.1"))
	os.WriteFile(filepath.Join(lab.Dir, "cert.pem"), crtPEM, 0o600)
	os.WriteFile(filepath.Join(lab.Dir, "key.pem"), keyPEM, 0o600)
	lab.CAFile = filepath.Join(lab.Dir, "ca.pem")
	os.WriteFile(lab.CAFile, caPEM, 0o600)
	lab.Roots = x509.NewCertPool()
	lab.Roots.AppendCertsFromPEM(caPEM)
	apiPort, mgmtPort, dnsPort, ctsMgmt := FreePort(t), FreePort(t), FreePort(t), FreePort(t)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress": fmt.Sprintf("127.0.0.1:%d", apiPort), "managementListenAddress": fmt.Sprintf("127.0.0.1:%d", mgmtPort),
		"certificate": filepath.Join(lab.Dir, "cert.pem"), "privateKey": filepath.Join(lab.Dir, "key.pem"),
		"httpPort": lab.HTTPPort, "tlsPort": lab.TLSPort, "ocspResponderURL": "", "externalAccountBindingRequired": false,
	}}
	b, _ := json.Marshal(cfg)
	os.WriteFile(filepath.Join(lab.Dir, "pebble.json"), b, 0o600)

	cts := exec.Command("pebble-challtestsrv", "-dns01", fmt.Sprintf("127.0.0.1:%d", dnsPort), "-http01", "", "-https01", "",
		"-tlsalpn01", "", "-management", fmt.Sprintf("127.0.0.1:%d", ctsMgmt), "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	peb := exec.Command("pebble", "-config", filepath.Join(lab.Dir, "pebble.json"), "-dnsserver", fmt.Sprintf("127.0.0.1:%d", dnsPort))
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
	lab.ca = peb
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lab.mu.Lock()
			lab.out.WriteString(sc.Text() + "\n")
			lab.mu.Unlock()
		}
	}()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: lab.Roots}}, Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := hc.Get(lab.directory(apiPort))
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pebble not ready: %v\n%s", err, lab.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	lab.DirURL = lab.directory(apiPort)
	return lab
}

func (lab *Pebble) directory(port int) string {
	return fmt.Sprintf("https://127.0.0.1:%d/dir", port)
}

func (lab *Pebble) Log() string {
	lab.mu.Lock()
	defer lab.mu.Unlock()
	return lab.out.String()
}

// orders counts the orders Pebble created.
func (lab *Pebble) Orders() int { return strings.Count(lab.Log(), "Added order") }

// ServerCert makes a throw-away root and a certificate for localhost and
// ips, signed by it (Pebble's own HTTPS listener), as PEM.
func ServerCert(t testing.TB, ips ...net.IP) (caPEM, crtPEM, keyPEM []byte) {
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
		DNSNames: []string{"localhost"}, IPAddresses: ips,
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

// StopCA kills Pebble (the CA becomes unreachable); the DNS server stays.
func (lab *Pebble) StopCA() {
	lab.ca.Process.Kill()
}
