package certs

import (
	"crypto/tls"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestParseCiphers(t *testing.T) {
	def, warns, err := ParseCiphers(DefaultCiphers)
	if err != nil || len(warns) != 0 || len(def) != 6 {
		t.Fatalf("DefaultCiphers: %v %v %v", def, warns, err)
	}
	for _, id := range def {
		if !slices.ContainsFunc(tls.CipherSuites(), func(c *tls.CipherSuite) bool { return c.ID == id && !c.Insecure }) {
			t.Errorf("default suite %x is not a secure crypto/tls suite", id)
		}
	}
	// Mozilla's full intermediate string, DHE included, is accepted: the
	// DHE suites are skipped with a warning.
	mozilla := DefaultCiphers + ":DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
	got, warns, err := ParseCiphers(mozilla)
	if err != nil || !slices.Equal(got, def) || len(warns) != 3 {
		t.Errorf("mozilla intermediate: %v %v %v", got, warns, err)
	}
	for _, tc := range []struct {
		in   string
		want []uint16
		err  string
	}{
		{"ECDHE-RSA-AES128-GCM-SHA256", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, ""},
		{"ECDHE-RSA-AES128-GCM-SHA256, AES128-SHA ECDHE-RSA-AES128-GCM-SHA256", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA}, ""},
		{"ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA:!AES128-SHA:!aNULL:!MD5", []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, ""},
		{"HIGH:!aNULL", nil, "OpenSSL keywords"},
		{"ECDHE+AESGCM", nil, "OpenSSL keywords"},
		{"ECDHE-RSA-AES128-GCM-SHA256:@STRENGTH", nil, "OpenSSL keywords"},
		{"ECDHE-RSA-AES128-GCM-SHA255", nil, `cipher "ECDHE-RSA-AES128-GCM-SHA255": unknown`},
		{"DES-CBC3-SHA", nil, "3DES"},
		{"RC4-SHA", nil, "RC4"},
		{"TLS_AES_128_GCM_SHA256", nil, "TLS 1.3 suite"},
		{"DHE-RSA-AES128-GCM-SHA256", nil, "no TLS 1.2 suite"},
		{"", nil, "no TLS 1.2 suite"},
	} {
		got, _, err := ParseCiphers(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q: %x %v, want %x", tc.in, got, err, tc.want)
		}
	}
}

func TestServerOptionsConfig(t *testing.T) {
	dir, ca := sniFixture(t)
	s, _, err := New(Options{Crt: []string{filepath.Join(dir, "a.pem")}})
	if err != nil {
		t.Fatal(err)
	}
	caFile := writeFile(t, t.TempDir(), "ca.pem", pemCert(ca))
	cfg, warns, err := ServerOptions{}.Config(s)
	if err != nil || len(warns) != 0 {
		t.Fatal(err, warns)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.MaxVersion != tls.VersionTLS13 || len(cfg.CipherSuites) != 6 ||
		cfg.ClientAuth != tls.NoClientCert || cfg.SessionTicketsDisabled || cfg.GetCertificate == nil || len(cfg.Certificates) != 0 {
		t.Errorf("defaults: %+v", cfg)
	}
	for _, tc := range []struct {
		name     string
		o        ServerOptions
		min, max uint16
		auth     tls.ClientAuthType
		err      string
	}{
		{"no-tlsv12", ServerOptions{Options: "no-sslv3 no-tlsv10 no-tlsv11 no-tlsv12"}, tls.VersionTLS13, tls.VersionTLS13, tls.NoClientCert, ""},
		{"no-tlsv13", ServerOptions{Options: "no-tlsv13"}, tls.VersionTLS12, tls.VersionTLS12, tls.NoClientCert, ""},
		{"force-tlsv13", ServerOptions{Options: "force-tlsv13"}, tls.VersionTLS13, tls.VersionTLS13, tls.NoClientCert, ""},
		{"ssl-min-ver", ServerOptions{Options: "ssl-min-ver TLSv1.3 prefer-client-ciphers"}, tls.VersionTLS13, tls.VersionTLS13, tls.NoClientCert, ""},
		{"ssl-max-ver", ServerOptions{Options: "ssl-max-ver TLSv1.2"}, tls.VersionTLS12, tls.VersionTLS12, tls.NoClientCert, ""},
		{"verify optional", ServerOptions{CAFile: caFile, Verify: "optional"}, tls.VersionTLS12, tls.VersionTLS13, tls.VerifyClientCertIfGiven, ""},
		{"verify required", ServerOptions{CAFile: caFile, Verify: "required"}, tls.VersionTLS12, tls.VersionTLS13, tls.RequireAndVerifyClientCert, ""},
		{"ca-file alone", ServerOptions{CAFile: caFile}, tls.VersionTLS12, tls.VersionTLS13, tls.NoClientCert, ""},
		{"min 1.1", ServerOptions{MinVersion: tls.VersionTLS11}, 0, 0, 0, "TLSv1.1 refused"},
		{"ssl-min-ver 1.0", ServerOptions{Options: "ssl-min-ver TLSv1.0"}, 0, 0, 0, "refused"},
		{"force-tlsv11", ServerOptions{Options: "force-tlsv11"}, 0, 0, 0, "refused"},
		{"no version left", ServerOptions{Options: "no-tlsv12 no-tlsv13"}, 0, 0, 0, "no version left"},
		{"ssl-min-ver no arg", ServerOptions{Options: "ssl-min-ver"}, 0, 0, 0, "needs a version"},
		{"ssl-max-ver bad", ServerOptions{Options: "ssl-max-ver TLSv9"}, 0, 0, 0, "unknown TLS version"},
		{"unknown option", ServerOptions{Options: "no-tlsv12 frobnicate"}, 0, 0, 0, `unknown option "frobnicate"`},
		{"verify without ca", ServerOptions{Verify: "required"}, 0, 0, 0, "needs a ca-file"},
		{"verify bad", ServerOptions{CAFile: caFile, Verify: "sometimes"}, 0, 0, 0, "want none, optional or required"},
		{"ca-file missing", ServerOptions{CAFile: "/nonexistent/ca.pem", Verify: "required"}, 0, 0, 0, "/nonexistent/ca.pem: ca-file: file not found"},
		{"ca-file empty", ServerOptions{CAFile: writeFile(t, t.TempDir(), "empty.pem", []byte("x")), Verify: "required"}, 0, 0, 0, "no certificate"},
		{"bad cipher", ServerOptions{Ciphers: "HIGH"}, 0, 0, 0, "tls: ciphers"},
		{"bad alpn", ServerOptions{ALPN: []string{""}}, 0, 0, 0, "alpn"},
	} {
		cfg, _, err := tc.o.Config(s)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || cfg.MinVersion != tc.min || cfg.MaxVersion != tc.max || cfg.ClientAuth != tc.auth {
			t.Errorf("%s: %v min %x max %x auth %v", tc.name, err, cfg.MinVersion, cfg.MaxVersion, cfg.ClientAuth)
		}
	}
	if _, _, err := (ServerOptions{}).Config(nil); err == nil {
		t.Error("nil store must be an error")
	}
	if a, err := ParseALPN("h2,http/1.1"); err != nil || !slices.Equal(a, []string{"h2", "http/1.1"}) {
		t.Errorf("ParseALPN: %v %v", a, err)
	}
	if _, err := ParseALPN("h2,,x"); err == nil {
		t.Error("ParseALPN accepted an empty name")
	}
}

func TestTicketKeysRotation(t *testing.T) {
	k, err := NewTicketKeys(0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if k.Interval() != DefaultTicketRotation || len(k.Keys()) != 1 {
		t.Fatalf("defaults: %v %d", k.Interval(), len(k.Keys()))
	}
	first := k.Keys()[0]
	for range 5 {
		k.Rotate()
	}
	keys := k.Keys()
	if len(keys) != 1+DefaultTicketKeep || keys[0] == first || slices.Contains(keys, first) {
		t.Errorf("after 5 rotations: %d keys", len(keys))
	}
	// Attached configs are held weakly: a dropped one disappears.
	for range 3 {
		k.Attach(&tls.Config{})
	}
	live := &tls.Config{}
	k.Attach(live)
	runtime.GC()
	runtime.GC()
	k.Rotate()
	k.mu.Lock()
	n := len(k.configs)
	k.mu.Unlock()
	if n != 1 {
		t.Errorf("%d configs held, want the 1 live one", n)
	}
	runtime.KeepAlive(live)
}
