package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/certs/certstest"
)

func TestACMESection(t *testing.T) {
	base := "frontends:\n  - name: f\n    bind: ['*:80']\n    default_backend: b\nbackends:\n  - name: b\n    servers:\n      - {name: s, address: '127.0.0.1:8080'}\n"
	cfg, err := LoadBytes("t.yaml", []byte(base+"tls:\n  acme:\n    email: ops@example.com\n    certificates:\n      - [www.example.com, example.com]\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.TLS.ACME
	if a.Directory != DefaultACMEDirectory || a.KeyType != "ecdsa-p256" || len(a.Challenges) != 1 || a.Challenges[0] != "http-01" ||
		a.StateDir != DefaultPairStateDir || a.LockTTL != DefaultACMELockTTL {
		t.Fatalf("defaults: %+v", a)
	}
	if !a.HasChallenge("http-01") || a.HasChallenge("tls-alpn-01") {
		t.Errorf("default challenges: %v", a.Challenges)
	}
	cfg, err = LoadBytes("t.yaml", []byte(base+"tls:\n  acme:\n    certificates: [[a.example.com]]\n    challenges: [tls-alpn-01]\n"))
	if err != nil || !cfg.TLS.ACME.HasChallenge("tls-alpn-01") || cfg.TLS.ACME.HasChallenge("http-01") {
		t.Fatalf("challenges [tls-alpn-01]: %v", err)
	}
	cfg, err = LoadBytes("t.yaml", []byte(base+"pair:\n  listen: 10.0.0.1:7946\n  state_dir: /srv/lbd\ntls:\n  acme:\n    directory: staging\n    certificates: [[a.example.com]]\n    key_type: rsa2048\n    eab: {key_id: k, hmac_key: aGk}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.TLS.ACME; a.Directory != ACMEStagingDirectory || a.StateDir != "/srv/lbd" || a.EAB.KeyID != "k" {
		t.Fatalf("staging: %+v", a)
	}
	for _, c := range []struct{ yaml, want string }{
		{"tls:\n  acme:\n    email: a@example.com\n", "t.yaml:10: tls.acme.certificates: list at least one"},
		{"tls:\n  acme:\n    directory: http://ca.test/dir\n    certificates: [[a.example.com]]\n", "tls.acme.directory: must be an https:// URL"},
		{"tls:\n  acme:\n    certificates: [['*.example.com']]\n", `tls.acme.certificates: "*.example.com" is not a domain name`},
		{"tls:\n  acme:\n    certificates: [[a.example.com], [a.example.com]]\n", "is in two certificates"},
		{"tls:\n  acme:\n    certificates: [[a.example.com]]\n    key_type: ed25519\n", "tls.acme.key_type: must be ecdsa-p256 or rsa2048"},
		{"tls:\n  acme:\n    certificates: [[a.example.com]]\n    challenges: [dns-01]\n", `tls.acme.challenges: "dns-01" is not`},
		{"tls:\n  acme:\n    certificates: [[a.example.com]]\n    eab: {key_id: k}\n", "tls.acme.eab: needs both"},
		{"tls:\n  acme:\n    certificates: [[a.example.com]]\n    ca: /nonexistent/ca.pem\n", "tls.acme.ca:"},
		{"tls:\n  acme:\n    certificates: [[a.example.com]]\n    email: nope\n", "tls.acme.email:"},
		{"tls:\n  acme:\n    certificates: [[a.example.com]]\n    lock_ttl: 10ms\n", "tls.acme.lock_ttl: must be 1s..1h"},
		{"tls:\n  acme:\n    certificates: [[a.example.com]]\n    bogus: 1\n", `unknown key "bogus"`},
		{"  - name: lbd-acme-challenge\n    servers:\n      - {name: s, address: '127.0.0.1:8080'}\ntls:\n  acme:\n    certificates: [[a.example.com]]\n", "is lbd's own with tls.acme"},
	} {
		_, err := LoadBytes("t.yaml", []byte(base+c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.yaml, err, c.want)
		}
	}
}

// TestACMEEmptyCertDir: a TLS bind listing the ACME certificate directory
// loads while the directory is empty (or missing) when tls.acme is set,
// with a warning; without tls.acme, or for another empty directory, it is
// an error.
func TestACMEEmptyCertDir(t *testing.T) {
	state := t.TempDir()
	certDir := ACMECertDir(state)
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	bind := func(crt ...string) string {
		return "frontends:\n  - name: f\n    bind:\n      - '*:80'\n      - address: '*:443'\n        ssl: {crt: ['" +
			strings.Join(crt, "', '") + "']}\n    default_backend: b\nbackends:\n  - name: b\n    servers:\n      - {name: s, address: '127.0.0.1:8080'}\n"
	}
	acmeSec := "tls:\n  acme:\n    state_dir: " + state + "\n    certificates: [[a.example.com]]\n"

	for _, crt := range []string{certDir, certDir + "/"} {
		cfg, err := LoadBytes("t.yaml", []byte(bind(crt)+acmeSec))
		if err != nil {
			t.Fatalf("crt %s with tls.acme: %v", crt, err)
		}
		if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].String(), "frontends[0].bind[1].ssl.crt[0]") ||
			!strings.Contains(cfg.Warnings[0].Msg, "no certificate yet in "+crt+": ACME will obtain") {
			t.Errorf("crt %s: warnings %v", crt, cfg.Warnings)
		}
		opts := cfg.BindCertOptions(cfg.Frontends[0].Bind[1].SSL)
		if len(opts.AllowEmpty) != 1 || opts.AllowEmpty[0] != certDir {
			t.Errorf("crt %s: AllowEmpty %v", crt, opts.AllowEmpty)
		}
	}
	// With a fallback file next to it, the bind serves that meanwhile.
	fallback := filepath.Join(other, "fallback.pem")
	certstest.Write(t, fallback, certstest.Spec{Names: []string{"a.example.com"}})
	cfg, err := LoadBytes("t.yaml", []byte(bind(certDir, fallback)+acmeSec))
	if err != nil || len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].Msg, "serves its other certificates") {
		t.Errorf("ACME directory plus a fallback file: %v %v", err, cfg)
	}
	os.Remove(fallback)
	// Missing yet (fresh machine): a warning too.
	missing := filepath.Join(t.TempDir(), "lbd")
	if _, err := LoadBytes("t.yaml", []byte(bind(ACMECertDir(missing))+"tls:\n  acme:\n    state_dir: "+missing+"\n    certificates: [[a.example.com]]\n")); err != nil {
		t.Errorf("missing ACME directory: %v", err)
	}
	// The state_dir default follows pair.state_dir as the acme engine does.
	if _, err := LoadBytes("t.yaml", []byte(bind(certDir)+"pair:\n  listen: 10.0.0.1:7946\n  state_dir: "+state+"\ntls:\n  acme:\n    certificates: [[a.example.com]]\n")); err != nil {
		t.Errorf("ACME directory under pair.state_dir: %v", err)
	}

	for name, yaml := range map[string]string{
		"without tls.acme":           bind(certDir),
		"another empty directory":    bind(other) + acmeSec,
		"ACME dir of another state":  bind(certDir) + "tls:\n  acme:\n    state_dir: " + other + "\n    certificates: [[a.example.com]]\n",
		"ACME dir plus an empty one": bind(certDir, other) + acmeSec,
	} {
		_, err := LoadBytes("t.yaml", []byte(yaml))
		if err == nil || !strings.Contains(err.Error(), "holds no certificate file") {
			t.Errorf("%s: got %v, want an empty-directory error", name, err)
		}
	}
}
