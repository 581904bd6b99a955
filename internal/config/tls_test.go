package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/certs/certstest"
)

func tlsYAML(bind string) string {
	return `frontends:
  - name: www
    bind:
      - "127.0.0.1:8080"
` + bind + `
    acls:
      - name: tls
        criterion: ssl_fc
    redirects:
      - scheme: https
        code: 301
        if: "!{ ssl_fc }"
    default_backend: app
backends:
  - name: app
    servers:
      - name: s1
        address: 127.0.0.1:9000
`
}

func TestTLSBindConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pem")
	certstest.Write(t, good, certstest.Spec{Names: []string{"www.example.test"}})
	old := filepath.Join(dir, "old.pem")
	certstest.Write(t, old, certstest.Spec{Names: []string{"old.example.test"}, NotAfter: time.Now().Add(-48 * time.Hour)})
	a, _ := certstest.Bundle(t, certstest.Spec{Names: []string{"a.test"}})
	b, _ := certstest.Bundle(t, certstest.Spec{Names: []string{"b.test"}})
	mismatch := filepath.Join(dir, "mismatch.pem")
	certA := a[:bytes.Index(a, []byte("-----BEGIN PRIVATE KEY"))]
	keyB := b[bytes.Index(b, []byte("-----BEGIN PRIVATE KEY")):]
	os.WriteFile(mismatch, append(append([]byte(nil), certA...), keyB...), 0o600)
	enc := filepath.Join(dir, "enc.pem")
	os.WriteFile(enc, append(append([]byte(nil), certA...), []byte("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBAA==\n-----END ENCRYPTED PRIVATE KEY-----\n")...), 0o600)

	// Relative crt paths are relative to the config file.
	ok := `      - address: "127.0.0.1:8443"
        ssl:
          crt: [good.pem, old.pem]
          alpn: [h2, http/1.1]
          min_version: TLSv1.2`
	p := filepath.Join(dir, "lbd.yaml")
	os.WriteFile(p, []byte(tlsYAML(ok)), 0o600)
	cfg, err := Load(p)
	if err != nil {
		t.Fatalf("valid TLS config refused: %v", err)
	}
	b0 := cfg.Frontends[0].Bind
	if len(b0) != 2 || b0[0].SSL != nil || b0[1].SSL == nil || b0[1].SSL.Crt[0] != good {
		t.Fatalf("binds %+v", b0)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].String(), "lbd.yaml:7: frontends[0].bind[1].ssl.crt") || !strings.Contains(cfg.Warnings[0].Msg, "old.pem") {
		t.Errorf("expiry warning: %v", cfg.Warnings)
	}

	cases := []struct{ name, bind, want string }{
		{"missing", `crt: [none.pem]`, "lbd.yaml:7: frontends[0].bind[1].ssl.crt[0]: certificate " + filepath.Join(dir, "none.pem") + ": file not found"},
		{"mismatch", `crt: [mismatch.pem]`, "does not match"},
		{"encrypted", `crt: [enc.pem]`, "encrypted"},
		{"no crt", `alpn: [h2]`, "ssl.crt: a TLS bind needs"},
		{"tls11", "crt: [good.pem]\n          min_version: TLSv1.1", "ssl.min_version"},
		{"alpn", "crt: [good.pem]\n          alpn: [spdy]", "ssl.alpn[0]: unknown protocol"},
		{"verify", "crt: [good.pem]\n          verify: required", "needs a ca-file"},
		{"cipher", "crt: [good.pem]\n          ciphers: HIGH", "ciphers"},
	}
	for _, tc := range cases {
		y := tlsYAML("      - address: \"127.0.0.1:8443\"\n        ssl:\n          " + tc.bind)
		os.WriteFile(p, []byte(y), 0o600)
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	// Global defaults and redirects.
	for _, tc := range []struct{ y, want string }{
		{"global:\n  ssl_default_bind:\n    options: [no-tlsv12, no-tlsv13]\n" + tlsYAML(""), "global.ssl_default_bind.options"},
		{"global:\n  tls_tickets:\n    rotate: 1s\n" + tlsYAML(""), "global.tls_tickets.rotate"},
		{strings.Replace(tlsYAML(""), "code: 301", "code: 305", 1), "redirects[0].code"},
		{strings.Replace(tlsYAML(""), `"!{ ssl_fc }"`, `"!{ ssl_fc"`, 1), "redirects[0].if"},
	} {
		os.WriteFile(p, []byte(tc.y), 0o600)
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// FuzzParseCondition: the condition parser (anonymous ACLs included) never
// panics.
func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{"!{ ssl_fc }", "a || !{ ssl_fc_sni -i x }", "{", "}", "!{}", "{ hdr(host) a }"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCondition(s, map[string]bool{"a": true})
		if err == nil {
			c.Eval(func(string) bool { return true })
		}
	})
}
