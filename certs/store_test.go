package certs

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// sniFixture writes a CA and four certificates into a directory:
// a.pem (ECDSA, first: the default), b.pem (CN only), c.pem (SAN wins over
// CN), wild.pem (*.example.com).
func sniFixture(t *testing.T) (dir string, ca *issued) {
	t.Helper()
	dir = t.TempDir()
	ca = newCA(t, "Test CA")
	writeFile(t, dir, "a.pem", bundle(t, issue(t, ca, certSpec{cn: "a.example.com", names: []string{"a.example.com", "www.a.example.com"}}), ca))
	writeFile(t, dir, "b.pem", bundle(t, issue(t, ca, certSpec{cn: "b.example.org"}), ca))
	writeFile(t, dir, "c.pem", bundle(t, issue(t, ca, certSpec{cn: "cn-only.example.org", names: []string{"c.example.com"}}), ca))
	writeFile(t, dir, "wild.pem", bundle(t, issue(t, ca, certSpec{cn: "wild", names: []string{"*.example.com"}}), ca))
	return dir, ca
}

func servedCN(t *testing.T, s *Store, sni string) (string, error) {
	t.Helper()
	c, err := s.GetCertificate(&tls.ClientHelloInfo{ServerName: sni, SupportedVersions: []uint16{tls.VersionTLS13}, SignatureSchemes: []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256}})
	if err != nil {
		return "", err
	}
	return c.Leaf.Subject.CommonName, nil
}

func TestSNISelection(t *testing.T) {
	dir, _ := sniFixture(t)
	s, warns, err := New(Options{Crt: []string{dir}})
	if err != nil || len(warns) != 0 {
		t.Fatalf("New: %v %v", err, warns)
	}
	for _, tc := range []struct{ sni, want string }{
		{"", "a.example.com"}, // no SNI: default = first loaded
		{"a.example.com", "a.example.com"},
		{"www.a.example.com", "a.example.com"},
		{"A.Example.COM", "a.example.com"}, // case-insensitive
		{"x.example.com", "wild"},          // wildcard, one label
		{"c.example.com", "cn-only.example.org"},
		{"cn-only.example.org", "a.example.com"}, // CN ignored when SANs exist
		{"b.example.org", "b.example.org"},       // CN used when no SAN
		{"x.y.example.com", "a.example.com"},     // wildcard covers one label only
		{"example.com", "a.example.com"},         // nor the bare domain
		{"unknown.test", "a.example.com"},
	} {
		got, err := servedCN(t, s, tc.sni)
		if err != nil || got != tc.want {
			t.Errorf("SNI %q: served %q (%v), want %q", tc.sni, got, err, tc.want)
		}
	}

	// An explicit default.
	s2, _, err := New(Options{Crt: []string{dir}, Default: filepath.Join(dir, "b.pem")})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := servedCN(t, s2, "unknown.test"); got != "b.example.org" {
		t.Errorf("explicit default: served %q", got)
	}
	if _, _, err := New(Options{Crt: []string{dir}, Default: "/nope.pem"}); err == nil {
		t.Error("a default that is not loaded must be an error")
	}

	// strict-sni: no default.
	s3, _, err := New(Options{Crt: []string{dir}, StrictSNI: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, sni := range []string{"", "unknown.test", "x.y.example.com"} {
		if _, err := servedCN(t, s3, sni); !errors.Is(err, ErrUnknownSNI) || Classify(err) != ReasonUnknownSNI {
			t.Errorf("strict SNI %q: err %v", sni, err)
		}
	}
	if got, err := servedCN(t, s3, "x.example.com"); err != nil || got != "wild" {
		t.Errorf("strict SNI match: %q %v", got, err)
	}

	infos := s.Info()
	if len(infos) != 4 || !infos[0].Default || infos[1].Default || infos[0].File != filepath.Join(dir, "a.pem") {
		t.Fatalf("Info order/default: %+v", infos)
	}
	if i := infos[0]; i.KeyType != "ECDSA P-256" || i.Issuer != "CN=Test CA" || i.DaysLeft < 363 || i.DaysLeft > 365 ||
		strings.Join(i.Names, ",") != "a.example.com,www.a.example.com" {
		t.Errorf("Info: %+v", i)
	}
}

// dualFixture: an ECDSA and an RSA certificate for d.example.com.
func dualFixture(t *testing.T) (*Store, *issued) {
	t.Helper()
	dir := t.TempDir()
	ca := newCA(t, "Test CA")
	writeFile(t, dir, "d-1-rsa.pem", bundle(t, issue(t, ca, certSpec{cn: "rsa", names: []string{"d.example.com"}, kind: kRSA}), ca))
	writeFile(t, dir, "d-2-ecdsa.pem", bundle(t, issue(t, ca, certSpec{cn: "ecdsa", names: []string{"d.example.com"}}), ca))
	s, _, err := New(Options{Crt: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	return s, ca
}

func TestECDSAOrRSA(t *testing.T) {
	s, _ := dualFixture(t)
	v12 := []uint16{tls.VersionTLS12}
	v13 := []uint16{tls.VersionTLS13, tls.VersionTLS12}
	ecdsaSuite := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}
	rsaSuites := []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_GCM_SHA256}
	p256 := []tls.CurveID{tls.X25519, tls.CurveP256}
	ecSchemes := []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256, tls.PSSWithSHA256}
	rsaSchemes := []tls.SignatureScheme{tls.PSSWithSHA256, tls.PKCS1WithSHA256}
	for _, tc := range []struct {
		name    string
		hello   tls.ClientHelloInfo
		allow13 bool
		want    string
	}{
		{"tls13 ecdsa scheme", tls.ClientHelloInfo{SupportedVersions: v13, SignatureSchemes: ecSchemes, CipherSuites: rsaSuites}, true, "ecdsa"},
		{"tls13 no ecdsa scheme", tls.ClientHelloInfo{SupportedVersions: v13, SignatureSchemes: rsaSchemes, CipherSuites: ecdsaSuite}, true, "rsa"},
		{"tls12 only rsa suites", tls.ClientHelloInfo{SupportedVersions: v12, SignatureSchemes: ecSchemes, CipherSuites: rsaSuites, SupportedCurves: p256}, true, "rsa"},
		{"tls12 ecdsa suite", tls.ClientHelloInfo{SupportedVersions: v12, SignatureSchemes: ecSchemes, CipherSuites: ecdsaSuite, SupportedCurves: p256}, true, "ecdsa"},
		{"tls12 no P-256", tls.ClientHelloInfo{SupportedVersions: v12, SignatureSchemes: ecSchemes, CipherSuites: ecdsaSuite, SupportedCurves: []tls.CurveID{tls.X25519}}, true, "rsa"},
		{"tls12 no ecdsa scheme", tls.ClientHelloInfo{SupportedVersions: v12, SignatureSchemes: rsaSchemes, CipherSuites: ecdsaSuite, SupportedCurves: p256}, true, "rsa"},
		{"tls12 bare hello", tls.ClientHelloInfo{SupportedVersions: v12, CipherSuites: ecdsaSuite}, true, "ecdsa"},
		{"tls13 client, bind max 1.2, rsa suites", tls.ClientHelloInfo{SupportedVersions: v13, SignatureSchemes: ecSchemes, CipherSuites: rsaSuites, SupportedCurves: p256}, false, "rsa"},
	} {
		h := tc.hello
		h.ServerName = "d.example.com"
		c, err := s.get(&h, tc.allow13)
		if err != nil || c.Leaf.Subject.CommonName != tc.want {
			t.Errorf("%s: got %v %v, want %s", tc.name, c.Leaf.Subject.CommonName, err, tc.want)
		}
	}
	// The default slot pairs too: the default is the RSA certificate
	// (first loaded), but an ECDSA-capable client gets the ECDSA one.
	h := tls.ClientHelloInfo{SupportedVersions: v13, SignatureSchemes: ecSchemes}
	if c, _ := s.GetCertificate(&h); c.Leaf.Subject.CommonName != "ecdsa" {
		t.Errorf("default pair: got %s", c.Leaf.Subject.CommonName)
	}
}

func TestValidation(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "Test CA")
	inter := issue(t, ca, certSpec{cn: "Intermediate", isCA: true})
	leaf := issue(t, inter, certSpec{cn: "v.example.com", names: []string{"v.example.com"}})
	other := issue(t, ca, certSpec{cn: "o.example.com", names: []string{"o.example.com"}})

	good := writeFile(t, dir, "good.pem", bundle(t, leaf, inter, ca))
	mismatch := writeFile(t, dir, "mismatch.pem", append(append(pemCert(leaf), pemCert(inter)...), pemKey(t, other.key)...))
	reversed := writeFile(t, dir, "reversed.pem", append(append(pemCert(inter), pemCert(leaf)...), pemKey(t, leaf.key)...))
	unrelated := writeFile(t, dir, "unrelated.pem", append(append(pemCert(leaf), pemCert(other)...), pemKey(t, leaf.key)...))
	enc8 := writeFile(t, dir, "enc8.pem", append(pemCert(leaf), pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})...))
	encLegacy := writeFile(t, dir, "enclegacy.pem", append(pemCert(leaf), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"}, Bytes: []byte{1, 2, 3}})...))
	noCert := writeFile(t, dir, "nocert.pem", pemKey(t, leaf.key))
	noKey := writeFile(t, dir, "nokey.pem", pemCert(leaf))
	garbage := writeFile(t, dir, "garbage.pem", []byte("not a pem file\n"))
	badDER := writeFile(t, dir, "badder.pem", append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), pemKey(t, leaf.key)...))

	for _, tc := range []struct {
		name    string
		file    string
		is      error
		inError string // the file the error must name
		text    string
	}{
		{"missing", filepath.Join(dir, "missing.pem"), fs.ErrNotExist, "missing.pem", "file not found"},
		{"key mismatch", mismatch, ErrKeyMismatch, mismatch, "does not match"},
		{"chain reversed", reversed, ErrChainOrder, reversed, "other way round"},
		{"chain unrelated", unrelated, ErrChainOrder, unrelated, "followed by its issuer"},
		{"encrypted pkcs8", enc8, ErrEncryptedKey, enc8, "password"},
		{"encrypted legacy", encLegacy, ErrEncryptedKey, encLegacy, "password"},
		{"no certificate", noCert, ErrNoCertificate, noCert, "no certificate"},
		{"no key", noKey, ErrNoKey, noKey, "nokey.pem.key"},
		{"garbage", garbage, ErrNoKey, garbage, "no private key"},
		{"bad der", badDER, ErrBadPEM, badDER, "certificate 1"},
	} {
		_, _, err := New(Options{Crt: []string{good, tc.file}})
		if err == nil || !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.inError) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s: err = %v; want %v naming %s with %q", tc.name, err, tc.is, tc.inError, tc.text)
		}
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Errorf("%s: %T is not a *FileError", tc.name, err)
		}
	}

	// An expired certificate loads, with a warning.
	expired := issue(t, ca, certSpec{cn: "old.example.com", names: []string{"old.example.com"}, notAfter: time.Now().Add(-47 * time.Hour)})
	exp := writeFile(t, dir, "expired.pem", bundle(t, expired, ca))
	s, warns, err := New(Options{Crt: []string{good, exp}})
	if err != nil || len(warns) != 1 || warns[0].File != exp || !strings.Contains(warns[0].String(), "expired on") {
		t.Fatalf("expired: %v %v", err, warns)
	}
	if in := s.Info(); in[1].DaysLeft != -2 {
		t.Errorf("expired DaysLeft = %d, want -2", in[1].DaysLeft)
	}
	if e := s.Expiring(14 * 24 * time.Hour); len(e) != 1 || e[0].File != exp {
		t.Errorf("Expiring: %+v", e)
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "Test CA")
	l1 := issue(t, ca, certSpec{cn: "k1.example.com", names: []string{"k1.example.com"}})
	l2 := issue(t, ca, certSpec{cn: "k2.example.com", names: []string{"k2.example.com"}, kind: kRSA})
	// FILE + FILE.key
	f1 := writeFile(t, dir, "k1.pem", append(pemCert(l1), pemCert(ca)...))
	writeFile(t, dir, "k1.pem.key", pemKey(t, l1.key))
	// NAME.crt + NAME.key
	f2 := writeFile(t, dir, "k2.crt", pemCert(l2))
	writeFile(t, dir, "k2.key", pemKey(t, l2.key))
	writeFile(t, dir, ".hidden.pem", []byte("ignored"))
	writeFile(t, dir, "k2.ocsp", []byte("ignored"))
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	s, _, err := New(Options{Crt: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	in := s.Info()
	if len(in) != 2 || in[0].File != f1 || in[1].File != f2 || in[1].KeyType != "RSA 2048" {
		t.Fatalf("directory load: %+v", in)
	}
	// A key file that does not match names the key file.
	writeFile(t, dir, "k1.pem.key", pemKey(t, l2.key))
	if _, err := s.Reload(); !errors.Is(err, ErrKeyMismatch) || !strings.Contains(err.Error(), "k1.pem.key") {
		t.Errorf("mismatched FILE.key: %v", err)
	}
	if _, _, err := New(Options{Crt: []string{t.TempDir()}}); err == nil || !strings.Contains(err.Error(), "no certificate file") {
		t.Errorf("empty directory: %v", err)
	}
	if _, _, err := New(Options{}); err == nil {
		t.Error("no crt must be an error")
	}
}

func TestReloadKeepsOldOnError(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t, "Test CA")
	f := writeFile(t, dir, "site.pem", bundle(t, issue(t, ca, certSpec{cn: "v1", names: []string{"site.example.com"}}), ca))
	s, _, err := New(Options{Crt: []string{f}})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "site.pem", []byte("-----BEGIN CERTIFICATE-----\nbroken\n"))
	if _, err := s.Reload(); err == nil || !strings.Contains(err.Error(), "kept the previous") || !strings.Contains(err.Error(), f) {
		t.Fatalf("broken reload: %v", err)
	}
	if cn, _ := servedCN(t, s, "site.example.com"); cn != "v1" {
		t.Fatalf("after a broken reload served %q, want v1", cn)
	}
	writeFile(t, dir, "site.pem", bundle(t, issue(t, ca, certSpec{cn: "v2", names: []string{"site.example.com"}}), ca))

	// Readers run while the reload swaps the index.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &tls.ClientHelloInfo{ServerName: "site.example.com"}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c, err := s.GetCertificate(h); err != nil || c == nil {
					t.Error("GetCertificate failed during reload")
					return
				}
			}
		}()
	}
	if _, err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if cn, _ := servedCN(t, s, "site.example.com"); cn != "v2" {
		t.Fatalf("after reload served %q, want v2", cn)
	}
}

func TestGetCertificateAllocs(t *testing.T) {
	s, _ := dualFixture(t)
	hellos := benchHellos()
	allocs := testing.AllocsPerRun(200, func() {
		for i := range hellos {
			if _, err := s.GetCertificate(&hellos[i]); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("GetCertificate allocates %.1f times per run, want 0", allocs)
	}
	// The same through the tls.Config that ServerOptions builds.
	cfg, _, err := ServerOptions{}.Config(s)
	if err != nil {
		t.Fatal(err)
	}
	allocs = testing.AllocsPerRun(200, func() {
		for i := range hellos {
			if _, err := cfg.GetCertificate(&hellos[i]); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("Config.GetCertificate allocates %.1f times per run, want 0", allocs)
	}
}

func benchHellos() []tls.ClientHelloInfo {
	return []tls.ClientHelloInfo{
		{ServerName: "d.example.com", SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12}, SignatureSchemes: []tls.SignatureScheme{tls.PSSWithSHA256, tls.ECDSAWithP256AndSHA256}},
		{ServerName: "d.example.com", SupportedVersions: []uint16{tls.VersionTLS12}, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
		{ServerName: "x.d.example.com", SupportedVersions: []uint16{tls.VersionTLS13}},
		{SupportedVersions: []uint16{tls.VersionTLS13}},
	}
}

func BenchmarkGetCertificate(b *testing.B) {
	dir := b.TempDir()
	ca := newCA(b, "Test CA")
	writeFile(b, dir, "rsa.pem", bundle(b, issue(b, ca, certSpec{cn: "rsa", names: []string{"d.example.com"}, kind: kRSA}), ca))
	writeFile(b, dir, "ecdsa.pem", bundle(b, issue(b, ca, certSpec{cn: "ecdsa", names: []string{"d.example.com"}}), ca))
	writeFile(b, dir, "wild.pem", bundle(b, issue(b, ca, certSpec{cn: "w", names: []string{"*.d.example.com"}}), ca))
	s, _, err := New(Options{Crt: []string{dir}})
	if err != nil {
		b.Fatal(err)
	}
	hellos := benchHellos()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.GetCertificate(&hellos[i%len(hellos)]); err != nil {
			b.Fatal(err)
		}
	}
}
