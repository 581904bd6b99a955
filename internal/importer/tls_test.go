package importer

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/certs/certstest"
	"github.com/lbd-ha/lbd/internal/config"
)

func TestImportTLS(t *testing.T) {
	dir := t.TempDir()
	site, api := filepath.Join(dir, "site.pem"), filepath.Join(dir, "api.pem")
	certstest.Write(t, site, certstest.Spec{Names: []string{"www.example.test"}})
	certstest.Write(t, api, certstest.Spec{Names: []string{"api.example.test"}})
	src := `global
 ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256
 ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets
 ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256
defaults
 mode http
 timeout client 5s
frontend www
 bind :80
 bind :443 ssl crt ` + site + ` crt ` + api + ` alpn h2,http/1.1 strict-sni no-tlsv12 curves X25519
 acl tls ssl_fc
 acl api ssl_fc_sni -i api.example.test
 redirect scheme https code 301 if !{ ssl_fc }
 redirect prefix /new
 use_backend b if api tls
 default_backend b
backend b
 server s1 127.0.0.1:81 ssl verify required ca-file ` + site + `
`
	r := importString(t, src)
	g := r.Config.Global.SSLDefaultBind
	if g == nil || g.Ciphers != "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256" || strings.Join(g.Options, ",") != "ssl-min-ver TLSv1.2,no-tls-tickets" {
		t.Errorf("ssl_default_bind = %+v", g)
	}
	fe := r.Config.Frontends[0]
	if len(fe.Bind) != 2 || fe.Bind[0].SSL != nil || fe.Bind[1].Address != ":443" {
		t.Fatalf("binds %+v", fe.Bind)
	}
	s := fe.Bind[1].SSL
	if s == nil || strings.Join(s.Crt, ",") != site+","+api || strings.Join(s.ALPN, ",") != "h2,http/1.1" || !s.StrictSNI || strings.Join(s.Options, ",") != "no-tlsv12" {
		t.Errorf("ssl = %+v", s)
	}
	if len(fe.Redirects) != 1 || fe.Redirects[0].Scheme != "https" || fe.Redirects[0].Code != 301 || fe.Redirects[0].If != "!{ ssl_fc }" {
		t.Errorf("redirects = %+v", fe.Redirects)
	}
	if len(fe.ACLs) != 2 || fe.ACLs[0].Criterion != "ssl_fc" || len(fe.ACLs[0].Values) != 0 || fe.ACLs[1].Criterion != "ssl_fc_sni" {
		t.Errorf("acls = %+v", fe.ACLs)
	}
	w := warningsText(r)
	for _, want := range []string{
		"ssl-default-bind-ciphersuites: TLS 1.3 suites cannot be configured",
		"bind option curves X25519 not supported",
		"redirect prefix not supported",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if s := r.Config.Backends[0].Servers[0].SSL; s == nil || s.Verify != "required" || s.CAFile != site {
		t.Errorf("server ssl = %+v", s)
	}
	if !strings.Contains(string(r.YAML), "      - address: :443\n        ssl:\n") {
		t.Errorf("YAML:\n%s", r.YAML)
	}
}

// TestImportServerTLS: server ssl, verify, ca-file, sni, crt, check-ssl,
// check-sni, ssl-server-verify, default-server in defaults and in a
// backend (with and without ssl), no-ssl, and what is left out.
func TestImportServerTLS(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"default-ca.pem", "api-ca.pem", "client.pem"} {
		certstest.Write(t, filepath.Join(dir, f), certstest.Spec{Names: []string{"x.test"}})
	}
	src := `global
 ssl-server-verify none
defaults
 mode http
 timeout client 5s
 default-server ca-file DIR/default-ca.pem check-sni health.example.com
frontend www
 bind :80
 default_backend app
backend app
 default-server ssl verify required sni req.hdr(host) verifyhost app.example.com
 server a1 10.0.0.1:443 check
 server a2 10.0.0.2:443 check no-ssl
 server a3 10.0.0.3:443 sni str(api.example.com) check-ssl crt DIR/client.pem alpn h2,http/1.1
backend api
 server b1 10.0.0.4:443 ssl verify none check check-ssl port 8443
 server b2 10.0.0.5:443 ssl ca-file DIR/api-ca.pem sni var(txn.host) verifyhost api.example.com
 server b3 10.0.0.6:80 verify none
`
	src = strings.ReplaceAll(src, "DIR/", dir+"/")
	r := importString(t, src)
	c := r.Config
	if c.Global.SSLServerVerify != "none" {
		t.Errorf("ssl_server_verify = %q", c.Global.SSLServerVerify)
	}
	if d := c.Defaults.DefaultServer; d == nil || d.SSL != nil || d.CheckSNI != "health.example.com" {
		t.Errorf("default_server = %+v", d)
	}
	srv := func(b, i int) config.Server { return c.Backends[b].Servers[i] }
	want := []struct {
		b, i int
		ssl  *config.ServerSSL
		chk  *bool
	}{
		{0, 0, &config.ServerSSL{Verify: "required", CAFile: dir + "/default-ca.pem", SNI: "req.hdr(host)", VerifyHost: "app.example.com"}, nil},
		{0, 1, nil, nil},
		{0, 2, &config.ServerSSL{Verify: "required", CAFile: dir + "/default-ca.pem", SNI: "str(api.example.com)", Crt: dir + "/client.pem", VerifyHost: "app.example.com"}, boolp(true)},
		{1, 0, &config.ServerSSL{Verify: "none", CAFile: dir + "/default-ca.pem"}, boolp(true)},
		{1, 1, &config.ServerSSL{CAFile: dir + "/api-ca.pem", VerifyHost: "api.example.com"}, nil},
		{1, 2, nil, nil},
	}
	for _, w := range want {
		s := srv(w.b, w.i)
		if (s.SSL == nil) != (w.ssl == nil) || (s.SSL != nil && *s.SSL != *w.ssl) {
			t.Errorf("%s: ssl %+v, want %+v", s.Name, s.SSL, w.ssl)
		}
		if (s.CheckSSL == nil) != (w.chk == nil) || (s.CheckSSL != nil && *s.CheckSSL != *w.chk) {
			t.Errorf("%s: check_ssl %v, want %v", s.Name, s.CheckSSL, w.chk)
		}
	}
	w := warningsText(r)
	for _, want := range []string{
		"alpn h2,http/1.1: lbd speaks HTTP/1.1 to servers",
		`unsupported sni expression "var(txn.host)"`,
		"server b3: verify/ca-file/sni/crt without ssl",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if strings.Contains(w, "not supported yet") {
		t.Errorf("stale warning:\n%s", w)
	}
	y := string(r.YAML)
	for _, want := range []string{"ssl_server_verify: none", "sni: req.hdr(host)", "check_ssl: true", "check_sni: health.example.com"} {
		if !strings.Contains(y, want) {
			t.Errorf("YAML lacks %q:\n%s", want, y)
		}
	}
}

// TestImportNoSSLOverDefaults: no-ssl on a server line (or on a backend's
// default-server) when the defaults' default-server has ssl becomes
// ssl: {enabled: false}, since lbd.yaml merges defaults.default_server's
// ssl into every server; a later ssl turns it back on.
func TestImportNoSSLOverDefaults(t *testing.T) {
	src := `defaults
 mode http
 timeout client 5s
 default-server ssl verify none
frontend www
 bind :80
 default_backend app
backend app
 server a1 10.0.0.1:443
 server a2 10.0.0.2:80 no-ssl
backend old
 default-server no-ssl
 server b1 10.0.0.3:80
 server b2 10.0.0.4:443 ssl
`
	r := importString(t, src)
	if !strings.Contains(string(r.YAML), "enabled: false") {
		t.Errorf("YAML lacks enabled: false:\n%s", r.YAML)
	}
	cfg, err := config.LoadBytes("t.yaml", r.YAML)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		b, i int
		on   bool
	}{{0, 0, true}, {0, 1, false}, {1, 0, false}, {1, 1, true}} {
		s := cfg.Backends[w.b].Servers[w.i]
		if s.SSL.On() != w.on {
			t.Errorf("%s: ssl on %v, want %v (%+v)\n%s", s.Name, s.SSL.On(), w.on, s.SSL, r.YAML)
		}
	}
	if s := cfg.Backends[1].Servers[1]; s.SSL.Verify != "none" {
		t.Errorf("b2 lost the defaults' verify none: %+v", s.SSL)
	}

	// Without ssl in the defaults, no-ssl needs nothing in lbd.yaml.
	r = importString(t, strings.Replace(src, " default-server ssl verify none\n", "", 1))
	if strings.Contains(string(r.YAML), "enabled:") {
		t.Errorf("enabled written without a default ssl:\n%s", r.YAML)
	}
}
