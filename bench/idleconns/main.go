package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lbd-ha/lbd/bench/internal/loadclient"
)

const maxConns = 100000

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "idleconns:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("idleconns", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "proxy address (loopback only)")
	n := fs.Int("n", 10000, "connections to open")
	parallel := fs.Int("parallel", 200, "connections being set up at once")
	hold := fs.Duration("hold", 60*time.Second, "longest time to hold the idle connections")
	setup := fs.Duration("setup-timeout", 60*time.Second, "longest time to open all connections")
	useTLS := fs.Bool("tls", false, "speak TLS (certificate not verified: the bench's own self-signed one)")
	burst := fs.Bool("burst", false, "open every connection first, then send all the first requests at once (a traffic spike)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *n > maxConns || *parallel < 1 {
		return fmt.Errorf("-n must be 1..%d and -parallel >= 1", maxConns)
	}
	if err := loadclient.LoopbackOnly(*addr); err != nil {
		return err
	}
	if err := loadclient.RaiseNofile(uint64(*n) + 1024); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(context.Background(), *setup)
	defer cancel()
	open := openAll
	if *burst {
		open = openBurst
	}
	conns, err := open(ctx, *addr, *n, *parallel, *useTLS)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ready %d\n", len(conns))
	if f, ok := stdout.(*os.File); ok {
		f.Sync()
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-time.After(*hold):
	}
	return nil
}

// openAll dials n connections, each sending one request and reading the
// whole response, with at most parallel in flight; over TLS when useTLS
// (HTTP/1.1 by ALPN).
func openAll(ctx context.Context, addr string, n, parallel int, useTLS bool) ([]net.Conn, error) {
	return dialAll(ctx, addr, n, parallel, useTLS, oneRequest)
}

// openBurst opens n connections (TLS handshake included when useTLS) with
// at most parallel being set up at once, without a request; once all are
// open it sends the first request on every one of them at the same moment
// (one goroutine per connection released together) and reads the
// responses: the proxy sees n requests arrive at once.
func openBurst(ctx context.Context, addr string, n, parallel int, useTLS bool) ([]net.Conn, error) {
	conns, err := dialAll(ctx, addr, n, parallel, useTLS, nil)
	if err != nil {
		return conns, err
	}
	errc := make(chan error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := oneRequest(ctx, c); err != nil {
				errc <- fmt.Errorf("connection %d: %w", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return conns, firstErr(ctx, errc)
}

// dialAll dials n connections with at most parallel being set up at once
// (TLS handshake included when useTLS) and runs then, if not nil, on each
// as it opens. The slice holds every connection opened, also on an error.
func dialAll(ctx context.Context, addr string, n, parallel int, useTLS bool, then func(context.Context, net.Conn) error) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, parallel)
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{}
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					errc <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				conns[i] = c
				if useTLS {
					tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
					conns[i] = tc
					if err := tc.HandshakeContext(ctx); err != nil {
						errc <- fmt.Errorf("connection %d: tls handshake: %w", i, err)
						return
					}
					c = tc
				}
				if then != nil {
					if err := then(ctx, c); err != nil {
						errc <- fmt.Errorf("connection %d: %w", i, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	return conns, firstErr(ctx, errc)
}

// firstErr returns the first error queued on errc, if any, else the
// context's error wrapped as a set-up failure.
func firstErr(ctx context.Context, errc chan error) error {
	select {
	case err := <-errc:
		return err
	default:
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	return nil
}

func oneRequest(ctx context.Context, c net.Conn) error {
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
		defer c.SetDeadline(time.Time{})
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: idleconns\r\n\r\n"); err != nil {
		return fmt.Errorf("write request: %w", err)
	}
	// One small response; the buffered reader is dropped afterwards, so an
	// unread byte would be lost, but a keep-alive response has none.
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 4096), nil)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)); err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if resp.Close {
		return errors.New("proxy closed the keep-alive connection")
	}
	return nil
}
