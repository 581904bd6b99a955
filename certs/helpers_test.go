package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Certificates are generated in the tests: no private key is checked in.

type keyKind int

const (
	kECDSA keyKind = iota
	kRSA
)

type issued struct {
	cert *x509.Certificate
	der  []byte
	key  crypto.Signer
}

var (
	rsaOnce sync.Once
	rsaKeys [2]*rsa.PrivateKey
	serial  atomic.Int64
)

// rsaKey returns one of two RSA 2048 keys made once per test binary
// (generating RSA keys is slow on shared CI cores).
func rsaKey(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		for j := range rsaKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys[j] = k
		}
	})
	return rsaKeys[i]
}

func newKey(t testing.TB, kind keyKind) crypto.Signer {
	t.Helper()
	if kind == kRSA {
		return rsaKey(t, 0)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type certSpec struct {
	cn       string
	names    []string
	kind     keyKind
	key      crypto.Signer // nil: a new key of kind
	isCA     bool
	notAfter time.Time // zero: a year from now
	client   bool      // client-auth EKU instead of server-auth
}

// issue makes a certificate for spec signed by parent (self-signed when
// parent is nil).
func issue(t testing.TB, parent *issued, spec certSpec) *issued {
	t.Helper()
	key := spec.key
	if key == nil {
		key = newKey(t, spec.kind)
	}
	na := spec.notAfter
	if na.IsZero() {
		na = time.Now().Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      pkix.Name{CommonName: spec.cn},
		DNSNames:     spec.names,
		NotBefore:    na.Add(-2 * 365 * 24 * time.Hour),
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if spec.client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if spec.isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = nil
	}
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issued{cert: c, der: der, key: key}
}

func newCA(t testing.TB, cn string) *issued {
	return issue(t, nil, certSpec{cn: cn, isCA: true})
}

func pemCert(i *issued) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.der})
}

func pemKey(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// bundle is the HAProxy crt file: the certificate, its chain, the key.
func bundle(t testing.TB, leaf *issued, chain ...*issued) []byte {
	t.Helper()
	b := pemCert(leaf)
	for _, c := range chain {
		b = append(b, pemCert(c)...)
	}
	return append(b, pemKey(t, leaf.key)...)
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
