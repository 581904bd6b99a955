package bench

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lbd-ha/lbd/internal/config"
)

// render fills the placeholders the way run.sh does.
func render(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.NewReplacer("@FE@", "20000", "@BE1@", "20001", "@BE2@", "20002",
		"@TMP@", "/tmp/lbd-bench.test", "@NOFILE@", "20000", "@MAXCONN@", "9950").Replace(string(b)))
}

// haproxyFacts pulls what must match between the paired configs.
type facts struct {
	mode      string
	servers   int
	threads   int
	serverCls bool // http-server-close
	cookie    bool
}

func haproxyFacts(t *testing.T, cfg []byte) facts {
	t.Helper()
	f := facts{mode: "http"}
	sc := bufio.NewScanner(strings.NewReader(string(cfg)))
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) == 0 || strings.HasPrefix(w[0], "#") {
			continue
		}
		switch {
		case w[0] == "mode":
			f.mode = w[1]
		case w[0] == "server":
			f.servers++
		case w[0] == "nbthread":
			if w[1] != "1" {
				t.Errorf("nbthread %s", w[1])
			}
			f.threads = 1
		case w[0] == "option" && w[1] == "http-server-close":
			f.serverCls = true
		case w[0] == "cookie":
			f.cookie = true
		}
	}
	return f
}

func TestConfigsArePaired(t *testing.T) {
	for _, c := range []string{"seed", "keepalive", "tcp"} {
		t.Run(c, func(t *testing.T) {
			hp := haproxyFacts(t, render(t, filepath.Join("conf", "haproxy-"+c+".cfg")))
			lp := filepath.Join("conf", "lbd-"+c+".yaml")
			cfg, err := config.LoadBytes(lp, render(t, lp))
			if err != nil {
				t.Fatalf("lbd check would fail: %v", err)
			}
			got := facts{threads: cfg.Global.Threads}
			for _, fe := range cfg.Frontends {
				got.mode = fe.Mode
				if len(fe.Bind) != 1 || fe.Bind[0].Address != "127.0.0.1:20000" {
					t.Errorf("frontend %s binds %v, want loopback only", fe.Name, fe.Bind)
				}
			}
			for _, be := range cfg.Backends {
				got.servers += len(be.Servers)
				got.cookie = got.cookie || be.Cookie != nil
				got.serverCls = got.serverCls || (be.Options.HTTPServerClose != nil && *be.Options.HTTPServerClose)
			}
			if got != hp {
				t.Errorf("lbd %+v, haproxy %+v", got, hp)
			}
			if cfg.Sysctl.Apply == nil || *cfg.Sysctl.Apply {
				t.Error("the bench must not apply sysctls on the host (sysctl.apply: false)")
			}
			if cfg.VRRP.Instances != nil {
				t.Error("the bench config must not run VRRP")
			}
		})
	}
}
