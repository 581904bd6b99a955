package certs

import (
	"crypto/tls"
	"testing"
	"time"
)

// FuzzParsePEM: hostile bytes in a crt file (and in FILE.key) never panic;
// whatever loads is a usable certificate whose key matches.
func FuzzParsePEM(f *testing.F) {
	ca := newCA(f, "Fuzz CA")
	leaf := issue(f, ca, certSpec{cn: "f.example.com", names: []string{"f.example.com"}})
	f.Add(bundle(f, leaf, ca), []byte(nil))
	f.Add(append(pemCert(leaf), pemCert(ca)...), pemKey(f, leaf.key))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN PRIVATE KEY-----\n\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), []byte{})
	f.Add([]byte{0, 1, 2, '-', '-', '-'}, []byte("garbage"))
	now := time.Now()
	f.Fuzz(func(t *testing.T, data, key []byte) {
		if len(key) == 0 {
			key = nil
		}
		c, _, err := ParsePEM("fuzz.pem", data, key, now)
		if err != nil {
			return
		}
		if c.Leaf == nil || len(c.Certificate) == 0 || c.PrivateKey == nil {
			t.Fatalf("loaded an incomplete certificate: %+v", c)
		}
	})
}

// FuzzServerOptions: hostile cipher and option strings never panic.
func FuzzServerOptions(f *testing.F) {
	f.Add(DefaultCiphers, "no-tlsv12 ssl-max-ver TLSv1.3")
	f.Add("HIGH:!aNULL", "ssl-min-ver")
	f.Add("!-:::,", "force-tlsv13 no-tls-tickets")
	f.Fuzz(func(t *testing.T, ciphers, options string) {
		ParseCiphers(ciphers)
		minV, _, _, err := applyOptions(options, tls.VersionTLS12, tls.VersionTLS13, false)
		if err == nil && minV < tls.VersionTLS12 {
			t.Fatalf("options %q lowered the minimum version to %x", options, minV)
		}
	})
}
