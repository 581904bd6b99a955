// Command _bench runs the proxy engine on 127.0.0.1:9180 in front of
// 127.0.0.1:9101 and :9102 for manual wrk comparisons (not built by ./...).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/proxy"
)

func main() {
	b := func(v bool) *bool { return &v }
	cfg := &config.Config{}
	cfg.Global.Maxconn = 10000
	cfg.Defaults.Timeouts = config.Timeouts{Connect: 5 * time.Second, Client: 50 * time.Second, Server: 50 * time.Second, HTTPRequest: 10 * time.Second}
	if os.Getenv("MODE") == "close" {
		cfg.Defaults.Options.HTTPServerClose = b(true)
	}
	mode := "http"
	if os.Getenv("MODE") == "tcp" {
		mode = "tcp"
	}
	cfg.Defaults.Mode = mode
	cfg.Frontends = []config.Frontend{{Name: "fe", FrontendPart: config.FrontendPart{Bind: []string{"127.0.0.1:9180"}, DefaultBackend: "be"}}}
	be := config.Backend{Name: "be", BackendPart: config.BackendPart{Servers: []config.Server{{Name: "s1", Address: "127.0.0.1:9101", Cookie: "s1"}, {Name: "s2", Address: "127.0.0.1:9102", Cookie: "s2"}}}}
	if os.Getenv("MODE") == "close" {
		be.Cookie = &config.Cookie{Name: "SERVERID", Indirect: true, NoCache: true}
	}
	cfg.Backends = []config.Backend{be}
	e, err := proxy.New(cfg, proxy.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := e.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if f := os.Getenv("PROF"); f != "" {
		out, _ := os.Create(f)
		pprof.StartCPUProfile(out)
		defer pprof.StopCPUProfile()
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt)
	<-ch
	e.Shutdown(context.Background())
}
