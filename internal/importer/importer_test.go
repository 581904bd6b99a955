package importer

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lbd-ha/lbd/internal/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml")

type goldenCase struct {
	name       string
	haproxy    string // file under testdata, "" for none
	keepalived string
	exit       int
}

var goldenCases = []goldenCase{
	{"article1", "article1.cfg", "", 0},
	{"article2", "article2.cfg", "", 0},
	{"article2-lb01", "article2.cfg", "pair-lb01.conf", 0},
	{"article2-lb02", "article2.cfg", "pair-lb02.conf", 0},
	{"ka1-v2-pass", "", "ka1-v2-pass.conf", 0},
	{"ka2-v3-0.1s", "", "ka2-v3-0.1s.conf", 0},
	{"haproxy-full", "haproxy-full.cfg", "keepalived-full.conf", 2},
	{"multi-defaults", "multi-defaults.cfg", "", 0},
}

func runCase(t *testing.T, c goldenCase) *Result {
	t.Helper()
	var opts Options
	if c.haproxy != "" {
		opts.HAProxyPath = filepath.Join("testdata", c.haproxy)
	}
	if c.keepalived != "" {
		opts.KeepalivedPath = filepath.Join("testdata", c.keepalived)
	}
	r, err := Import(opts)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return r
}

// strictDecode unmarshals the YAML into config.Config rejecting unknown keys.
func strictDecode(t *testing.T, data []byte) *config.Config {
	t.Helper()
	var cfg config.Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("output does not decode strictly into config.Config: %v\n%s", err, data)
	}
	return &cfg
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			r := runCase(t, c)
			golden := filepath.Join("testdata", c.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, r.YAML, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(r.YAML, want) {
				t.Errorf("output differs from %s (run go test -update and review the diff):\n%s", golden, r.YAML)
			}
			if got := r.ExitCode(); got != c.exit {
				t.Errorf("ExitCode = %d, want %d; warnings:\n%s", got, c.exit, warningsText(r))
			}
			cfg := strictDecode(t, r.YAML)
			// The YAML and Result.Config describe the same configuration.
			again, err := yaml.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			direct, err := yaml.Marshal(r.Config)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, direct) {
				t.Errorf("YAML and Result.Config differ:\nfrom YAML:\n%s\nConfig:\n%s", again, direct)
			}
			checkWithLoader(t, c.name, r.YAML)
		})
	}
}

func warningsText(r *Result) string {
	var b strings.Builder
	for _, w := range r.Warnings {
		b.WriteString(w.String() + "\n")
	}
	return b.String()
}

// Every warning is written into the YAML as a comment, so nothing is
// dropped silently.
func TestWarningsAppearInYAML(t *testing.T) {
	for _, c := range goldenCases {
		r := runCase(t, c)
		for _, w := range r.Warnings {
			if !bytes.Contains(r.YAML, []byte(w.Message)) {
				t.Errorf("%s: warning %q is not in the YAML", c.name, w)
			}
			if w.Line <= 0 || w.File == "" {
				t.Errorf("%s: warning without file:line: %+v", c.name, w)
			}
		}
	}
}

func TestArticleMappings(t *testing.T) {
	r := runCase(t, goldenCases[0])
	cfg := r.Config
	if cfg.Global.ControlSocket != "/var/lib/haproxy/stats" || cfg.Global.Chroot != "/var/lib/haproxy" || cfg.Global.User != "haproxy" {
		t.Errorf("global = %+v", cfg.Global)
	}
	if len(cfg.Global.Log) != 1 || cfg.Global.Log[0] != (config.LogTarget{Address: "127.0.0.1", Facility: "local2"}) {
		t.Errorf("global.log = %+v", cfg.Global.Log)
	}
	if ff := cfg.Defaults.Options.ForwardFor; ff == nil || len(ff.Except) != 1 || ff.Except[0] != "127.0.0.0/8" {
		t.Errorf("forwardfor = %+v", ff)
	}
	if cfg.Stats == nil || cfg.Stats.Bind[0] != "*:1936" || !cfg.Stats.HideVersion || cfg.Stats.Auth[0] != "admin:SuperSecretPassword123" {
		t.Errorf("stats = %+v", cfg.Stats)
	}
	be := cfg.Backends[0]
	if be.Cookie == nil || be.Cookie.Name != "SERVERID" || !be.Cookie.Indirect || !be.Cookie.NoCache || be.Servers[1].Cookie != "s2" {
		t.Errorf("backend app_servers = %+v", be)
	}
	r2 := runCase(t, goldenCases[1])
	d := r2.Config.Defaults.Timeouts
	if d.Connect.String() != "5s" || d.Client.String() != "50s" || d.Server.String() != "50s" {
		t.Errorf("legacy timeouts = %+v", d)
	}
	ls := r2.Config.Listen[0]
	if ls.Stats.Realm != "Strictly Private" || ls.Servers[0].Inter.String() != "2s" || ls.Servers[0].Fall != 5 {
		t.Errorf("listen = %+v", ls)
	}
}

func TestPairDiffersOnlyInPriority(t *testing.T) {
	a := runCase(t, goldenCases[2]).Config.VRRP.Instances[0]
	b := runCase(t, goldenCases[3]).Config.VRRP.Instances[0]
	if a.Priority != 101 || b.Priority != 100 {
		t.Fatalf("priorities %d/%d, want 101/100", a.Priority, b.Priority)
	}
	if a.VRID != 51 || a.Interface != "eth0" || a.VIPs[0].Address != "10.10.0.100/24" || a.Version != 2 {
		t.Errorf("instance = %+v", a)
	}
	if len(a.Track.Frontends) != 1 || a.Track.Frontends[0] != (config.TrackItem{Name: "app_frontend", Weight: -2}) {
		t.Errorf("track = %+v", a.Track)
	}
	b.Priority = a.Priority
	ya, _ := yaml.Marshal(a)
	yb, _ := yaml.Marshal(b)
	if !bytes.Equal(ya, yb) {
		t.Errorf("lb01 and lb02 differ beyond priority:\n%s\n%s", ya, yb)
	}
}

func TestTimeParsing(t *testing.T) {
	for in, want := range map[string]string{"5000": "5s", "2000": "2s", "10s": "10s", "1m": "1m", "500ms": "500ms", "1d": "24h", "50000": "50s", "100us": "100us", "1500": "1500ms"} {
		d, err := parseHAProxyTime(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := formatDuration(d); got != want {
			t.Errorf("%s -> %s, want %s", in, got, want)
		}
	}
	for _, in := range []string{"", "s", "10x", "-1", "99999999999999999", "1.5s", "400d"} {
		if _, err := parseHAProxyTime(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestTokenizer(t *testing.T) {
	for in, want := range map[string][]string{
		`stats realm Strictly\ Private`: {"stats", "realm", "Strictly Private"},
		`a "b c" 'd\ e' f#x`:            {"a", "b c", `d\ e`, "f"},
		`x "" y`:                        {"x", "", "y"},
		`a\#b c\\d`:                     {"a#b", `c\d`},
		`hdr HTTP/1.1\r\nHost:\ x`:      {"hdr", "HTTP/1.1\r\nHost: x"},
		`a\x41b`:                        {"aAb"},
		"\t  # only a comment":          nil,
	} {
		got, _, err := tokenizeHAProxy(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
}

func TestErrors(t *testing.T) {
	long := "global\n    description " + strings.Repeat("x", MaxLineLen) + "\n"
	cases := []struct {
		name, haproxy, keepalived, want string
	}{
		{"unterminated double quote", "global\n  log \"127.0.0.1 local0\n", "", "bad.cfg:2: unterminated \" quote"},
		{"unterminated single quote", "frontend f\n  bind 'x\n", "", "bad.cfg:2: unterminated ' quote"},
		{"unknown section", "# hi\nbackends web\n  server a 1.2.3.4:80\n", "", `bad.cfg:2: unknown section "backends"`},
		{"misspelt section", "global\n  maxconn 10\nfronted web\n", "", `bad.cfg:3: unknown section or keyword "fronted" in global section (did you mean "frontend"?)`},
		{"server without address", "backend b\n  server web01 check cookie s1\n", "", "bad.cfg:2: server web01: missing address"},
		{"server without anything", "backend b\n  server\n", "", "bad.cfg:2: server: missing name and address"},
		{"long line", long, "", "bad.cfg:2: line too long"},
		{"bad timeout", "defaults\n  timeout client 10x\n", "", "bad.cfg:2: timeout client: invalid time unit"},
		{"missing backend", "frontend f\n  bind :80\n  default_backend nope\n", "", `bad.cfg:3: backend "nope" not found`},
		{"undeclared acl", "frontend f\n  bind :80\n  use_backend b if nope\nbackend b\n", "", `bad.cfg:3: use_backend b: acl "nope" is not declared`},
		{"duplicate backend", "backend b\nbackend b\n", "", `bad.cfg:2: backend "b": a backend with this name is already defined at line 1`},
		{"bad name", "frontend \"a b\"\n", "", `bad.cfg:1: frontend "a b": invalid character`},
		{"nul escape", "global\n  user a\\x00b\n", "", "bad.cfg:2: escape decodes to a NUL byte"},
		{"bad weight", "backend b\n  server s 1.2.3.4:80 weight 999\n", "", `bad.cfg:2: server s weight: invalid number "999"`},
		{"inter without value", "backend b\n  server s 1.2.3.4:80 inter\n", "", `bad.cfg:2: server s: "inter" needs a value`},
		{"ka unterminated block", "", "vrrp_instance VI_1 {\n  interface eth0\n", "bad.conf:1: block opened here is never closed"},
		{"ka stray brace", "", "global_defs {\n}\n}\n", "bad.conf:3: '}' without a matching '{'"},
		{"ka unterminated quote", "", "vrrp_script x {\n  script \"killall -0 haproxy\n}\n", "bad.conf:2: unterminated \" quote"},
		{"ka missing interface", "", "vrrp_instance VI_1 {\n  virtual_router_id 5\n}\n", "bad.conf:1: vrrp_instance VI_1: missing interface"},
		{"ka bad vrid", "", "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 256\n}\n", `bad.conf:3: virtual_router_id: invalid number "256"`},
		{"ka bad vip", "", "vrrp_instance V {\n interface e\n virtual_router_id 1\n virtual_ipaddress {\n  10.0.0.300/24\n }\n}\n", `bad.conf:5: virtual_ipaddress: "10.0.0.300/24" is not an IP address`},
		{"ka deep", "", strings.Repeat("a {\n", MaxDepth+2), "bad.conf:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := Options{}
			if c.haproxy != "" {
				opts.HAProxyPath, opts.HAProxy = "bad.cfg", strings.NewReader(c.haproxy)
			}
			if c.keepalived != "" {
				opts.KeepalivedPath, opts.Keepalived = "bad.conf", strings.NewReader(c.keepalived)
			}
			_, err := Import(opts)
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want it to contain %q", err, c.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *ParseError", err)
			}
		})
	}
}

func TestNoInputAndMissingFile(t *testing.T) {
	if _, err := Import(Options{}); !errors.Is(err, ErrNoInput) {
		t.Errorf("Import(empty) = %v, want ErrNoInput", err)
	}
	_, err := Import(Options{HAProxyPath: filepath.Join(t.TempDir(), "none.cfg")})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
}

func TestFileTooLarge(t *testing.T) {
	big := bytes.Repeat([]byte("# comment line\n"), MaxFileSize/15+10)
	_, err := Import(Options{HAProxyPath: "big.cfg", HAProxy: bytes.NewReader(big)})
	if err == nil || !strings.Contains(err.Error(), "big.cfg: file larger than") {
		t.Fatalf("err = %v", err)
	}
}
