package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/certs/certstest"
)

func serverSSLYAML(global, defServer, mode, server string) string {
	return global + `defaults:
  mode: ` + mode + `
` + defServer + `frontends:
  - name: www
    bind: ["127.0.0.1:8080"]
    default_backend: app
backends:
  - name: app
    servers:
      - name: s1
        address: 127.0.0.1:9443
` + server
}

func loadServerSSL(t *testing.T, dir, yml string) (*Config, error) {
	t.Helper()
	p := filepath.Join(dir, "lbd.yaml")
	if err := os.WriteFile(p, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

// TestServerSSLConfig: defaults (verify required, system roots), relative
// ca_file, default_server merge, global.ssl_server_verify, check over TLS,
// and the errors lbd check reports with file:line and key path.
func TestServerSSLConfig(t *testing.T) {
	dir := t.TempDir()
	certstest.Write(t, filepath.Join(dir, "ca.pem"), certstest.Spec{Names: []string{"ca.test"}})
	os.WriteFile(filepath.Join(dir, "garbage.pem"), []byte("not a pem\n"), 0o600)

	cfg, err := loadServerSSL(t, dir, serverSSLYAML("", "", "http", `        check: true
        ssl:
          ca_file: ca.pem
          sni: req.hdr(host)
`))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Backends[0].Servers[0]
	if s.SSL.Verify != "required" || s.SSL.CAFile != filepath.Join(dir, "ca.pem") || !s.ChecksOverTLS() {
		t.Fatalf("server %+v ssl %+v", s, s.SSL)
	}
	if o := s.CheckTLSOptions(&cfg.Global); !o.Verify || o.CAFile == "" || o.ServerName != "" {
		t.Fatalf("check options %+v", o)
	}

	cfg, err = loadServerSSL(t, dir, serverSSLYAML("global:\n  ssl_server_verify: none\n", `  default_server:
    ssl:
      sni: str(api.example.test)
    check_sni: health.example.test
`, "http", `        check_port: 8081
        ssl:
          ca_file: ca.pem
`))
	if err != nil {
		t.Fatal(err)
	}
	s = cfg.Backends[0].Servers[0]
	if s.SSL.Verify != "none" || s.SSL.SNI != "str(api.example.test)" || s.SSL.CAFile == "" || s.CheckSNI != "health.example.test" || s.ChecksOverTLS() {
		t.Fatalf("merged: %+v ssl %+v", s, s.SSL)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].String(), "ssl.ca_file: ignored with verify none") {
		t.Fatalf("warnings %v", cfg.Warnings)
	}
	// verify_host from default_server, for the traffic and the checks.
	cfg, err = loadServerSSL(t, dir, serverSSLYAML("", `  default_server:
    ssl:
      verify_host: api.example.test
`, "http", `        check: true
        check_sni: health.example.test
        ssl:
          ca_file: ca.pem
          sni: str(other.example.test)
`))
	if err != nil {
		t.Fatal(err)
	}
	s = cfg.Backends[0].Servers[0]
	if o := s.SSL.TLSOptions(); o.VerifyHost != "api.example.test" || !o.Verify {
		t.Fatalf("verify_host: options %+v", o)
	}
	if o := s.CheckTLSOptions(&cfg.Global); o.VerifyHost != "api.example.test" || o.ServerName != "health.example.test" {
		t.Fatalf("verify_host: check options %+v", o)
	}
	cfg, err = loadServerSSL(t, dir, serverSSLYAML("", "", "http", "        ssl:\n          verify: none\n          verify_host: a.test\n"))
	if err != nil || len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].String(), "ssl.verify_host: ignored with verify none") {
		t.Fatalf("verify_host with verify none: %v %v", err, cfg.Warnings)
	}
	cfg, err = loadServerSSL(t, dir, serverSSLYAML("", "", "http", "        check_ssl: true\n        check_sni: h.test\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Backends[0].Servers[0]; !s.ChecksOverTLS() || s.SSL != nil || !s.CheckTLSOptions(&cfg.Global).Verify {
		t.Fatalf("check_ssl without ssl: %+v", s)
	}

	cases := []struct{ name, global, mode, server, want string }{
		{"missing ca", "", "http", "        ssl:\n          ca_file: nope.pem\n", "lbd.yaml:13: backends[0].servers[0].ssl.ca_file: ca file: open " + filepath.Join(dir, "nope.pem")},
		{"garbage ca", "", "http", "        ssl:\n          ca_file: garbage.pem\n", "backends[0].servers[0].ssl.ca_file: ca file " + filepath.Join(dir, "garbage.pem") + ": no PEM certificate"},
		{"bad sni", "", "http", "        ssl:\n          sni: req.hdr(x-host)\n", "lbd.yaml:13: backends[0].servers[0].ssl.sni: unsupported sni expression"},
		{"bad name", "", "http", "        ssl:\n          sni: str(a b)\n", "backends[0].servers[0].ssl.sni: sni \"str(a b)\""},
		{"tcp host", "", "tcp", "        ssl:\n          sni: req.hdr(host)\n", "ssl.sni: sni req.hdr(host) needs mode http"},
		{"verify", "", "http", "        ssl:\n          verify: optional\n", "ssl.verify: unknown verify \"optional\""},
		{"global", "global:\n  ssl_server_verify: maybe\n", "http", "        ssl: {}\n", "global.ssl_server_verify: unknown verify"},
		{"check sni", "", "http", "        check_sni: \"bad name\"\n", "servers[0].check_sni"},
		{"crt", "", "http", "        ssl:\n          crt: nope.pem\n", "ssl.crt: client certificate"},
		{"verify host", "", "http", "        ssl:\n          verify_host: \"a b\"\n", "lbd.yaml:13: backends[0].servers[0].ssl.verify_host: character"},
	}
	for _, tc := range cases {
		_, err := loadServerSSL(t, dir, serverSSLYAML(tc.global, "", tc.mode, tc.server))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestServerSSLEnabled: ssl.enabled false turns off the ssl that
// default_server gives every server (HAProxy's no-ssl); a default_server
// block with enabled false holds settings that servers turn on with
// enabled true; the keys of a disabled block are still checked, but
// mode tcp's restriction on sni does not apply to it.
func TestServerSSLEnabled(t *testing.T) {
	dir := t.TempDir()
	certstest.Write(t, filepath.Join(dir, "ca.pem"), certstest.Spec{Names: []string{"ca.test"}})
	two := func(mode, def, s1, s2 string) string {
		return serverSSLYAML("", def, mode, s1) + "      - name: s2\n        address: 127.0.0.1:9444\n" + s2
	}
	onDef := "  default_server:\n    ssl:\n      ca_file: ca.pem\n      sni: req.hdr(host)\n"
	cfg, err := loadServerSSL(t, dir, two("http", onDef, "        check: true\n        ssl:\n          enabled: false\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := cfg.Backends[0].Servers[0], cfg.Backends[0].Servers[1]
	if s1.SSL.On() || s1.ChecksOverTLS() {
		t.Errorf("s1 (enabled: false) is on: %+v", s1.SSL)
	}
	if !s2.SSL.On() || s2.SSL.CAFile != filepath.Join(dir, "ca.pem") || !s2.ChecksOverTLS() {
		t.Errorf("s2 (default_server ssl) is off: %+v", s2.SSL)
	}
	var nilSSL *ServerSSL
	if nilSSL.On() {
		t.Error("no ssl block is on")
	}

	offDef := "  default_server:\n    ssl:\n      enabled: false\n      ca_file: ca.pem\n"
	cfg, err = loadServerSSL(t, dir, two("http", offDef, "        ssl: {enabled: true, sni: str(a.test)}\n", ""))
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 = cfg.Backends[0].Servers[0], cfg.Backends[0].Servers[1]
	if !s1.SSL.On() || s1.SSL.CAFile != filepath.Join(dir, "ca.pem") || s1.SSL.SNI != "str(a.test)" || s1.SSL.Verify != "required" {
		t.Errorf("s1 (enabled: true over a disabled default_server): %+v", s1.SSL)
	}
	if s2.SSL.On() {
		t.Errorf("s2 (disabled default_server) is on: %+v", s2.SSL)
	}

	// Mode tcp: a disabled block may keep an sni only mode http can use.
	if _, err := loadServerSSL(t, dir, two("tcp", onDef, "        ssl: {enabled: false}\n", "        ssl: {sni: str(b.test)}\n")); err != nil {
		t.Errorf("mode tcp with the per-request sni turned off: %v", err)
	}
	for _, tc := range []struct{ name, server, want string }{
		{"type", "        ssl:\n          enabled: \"no\"\n", "backends[0].servers[0].ssl.enabled: wrong type"},
		{"checked when off", "        ssl:\n          enabled: false\n          verify: sometimes\n", "ssl.verify: unknown verify \"sometimes\""},
	} {
		_, err := loadServerSSL(t, dir, serverSSLYAML("", "", "http", tc.server))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestParseSNI(t *testing.T) {
	for in, want := range map[string]SNIKind{"": SNINone, "str(www.example.com)": SNIFixed, "req.hdr(host)": SNIHost, "req.hdr(Host)": SNIHost, "hdr(host)": SNIHost, "ssl_fc_sni": SNIFrontend} {
		k, _, err := ParseSNI(in)
		if err != nil || k != want {
			t.Errorf("%q: %v %v", in, k, err)
		}
	}
	if _, n, _ := ParseSNI("str(api.example.com)"); n != "api.example.com" {
		t.Errorf("name %q", n)
	}
	for _, in := range []string{"str()", "str(a/b)", "req.hdr(x)", "var(txn.host)", "str(" + strings.Repeat("a", 64) + ".com)", "str(a..b)"} {
		if _, _, err := ParseSNI(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// FuzzParseSNI: no input panics, and an accepted str() name is one
// crypto/tls can send.
func FuzzParseSNI(f *testing.F) {
	for _, s := range []string{"str(a.b)", "req.hdr(host)", "ssl_fc_sni", "str(", "str())", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		k, n, err := ParseSNI(in)
		if err == nil && k == SNIFixed && (n == "" || strings.ContainsAny(n, " /:\x00")) {
			t.Fatalf("%q gave name %q", in, n)
		}
	})
}
