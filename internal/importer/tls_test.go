package importer

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/certs/certstest"
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
 server s1 127.0.0.1:81 ssl verify required ca-file /etc/ssl/ca.pem
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
		"server option ssl (TLS to servers) not supported yet",
		"server option verify (TLS to servers) not supported yet",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if !strings.Contains(string(r.YAML), "      - address: :443\n        ssl:\n") {
		t.Errorf("YAML:\n%s", r.YAML)
	}
}
