// Package certstest makes certificates for tests: self-signed ECDSA P-256
// (or RSA 2048) certificates for given names, written as HAProxy crt
// bundles (certificate, then key, in one PEM file). Nothing here is meant
// for production use; no key is ever checked in.
package certstest

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
	"sync/atomic"
	"testing"
	"time"
)

var serial atomic.Int64

// Spec describes a certificate.
type Spec struct {
	// Names are the DNS names (SAN); the first is also the subject CN.
	Names []string
	// RSA makes an RSA 2048 key instead of ECDSA P-256.
	RSA bool
	// NotAfter is the expiry; zero: a year from now.
	NotAfter time.Time
}

// Bundle returns the PEM bundle (certificate then PKCS#8 key) of a new
// self-signed certificate, and the parsed certificate.
func Bundle(t testing.TB, s Spec) ([]byte, *x509.Certificate) {
	t.Helper()
	var key crypto.Signer
	var err error
	if s.RSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	na := s.NotAfter
	if na.IsZero() {
		na = time.Now().Add(365 * 24 * time.Hour)
	}
	cn := "localhost"
	if len(s.Names) > 0 {
		cn = s.Names[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano() + serial.Add(1)),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     s.Names,
		NotBefore:    na.Add(-2 * 365 * 24 * time.Hour),
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})...)
	return out, c
}

// Write writes a new bundle for s to path (mode 0600) and returns the
// certificate.
func Write(t testing.TB, path string, s Spec) *x509.Certificate {
	t.Helper()
	b, c := Bundle(t, s)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}
