// Command tcploop is a standalone experiment for issue #20 (bench case (c),
// mode tcp): a minimal TCP forwarder with two engines, lbd's goroutine per
// direction copy and a goroutine-free epoll loop, to measure what the
// goroutine wake-ups cost per request. See README.md.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

const bufSize = 16384 // lbd's (and HAProxy's) buffer size

func main() {
	listen := flag.String("listen", "127.0.0.1:18090", "address:port to accept on")
	backends := flag.String("backends", "127.0.0.1:18081,127.0.0.1:18082", "comma-separated backends, round-robin per connection")
	engine := flag.String("engine", "goroutines", "goroutines (lbd's copy) or loop (one epoll loop)")
	idle := flag.Duration("idle", time.Minute, "goroutines: inactivity timeout as lbd arms it (0: none)")
	wait := flag.String("wait", "park", "loop: park (epoll fd in Go's poller), block (epoll_wait blocks) or raw (blocks unknown to the runtime)")
	spin := flag.Int("spin", 0, "loop -wait park or block: empty epoll_wait(0) calls before waiting")
	flag.Parse()
	bs := strings.Split(*backends, ",")
	var err error
	switch *engine {
	case "goroutines":
		var ln net.Listener
		if ln, err = net.Listen("tcp", *listen); err == nil {
			err = serveGoroutines(ln.(*net.TCPListener), bs, *idle)
		}
	case "loop":
		err = serveLoop(*listen, bs, *wait, *spin)
	default:
		err = fmt.Errorf("unknown -engine %q", *engine)
	}
	fmt.Fprintln(os.Stderr, "tcploop:", err)
	os.Exit(1)
}
