// Command demo is the helper `make demo` runs inside the lab's namespaces:
//
//	demo backend -listen :80 -name web01   # answers "served by web01", /health_check.php -> 200
//	demo client -url http://10.10.0.100/ -for 8s -every 10ms
//
// The client sends a bounded number of requests (at most one per -every, for
// at most -for), prints one line per second, and at the end the longest
// outage it saw: the client's view of a VRRP takeover.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: demo backend|client [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "backend":
		err = backend(os.Args[2:])
	case "client":
		err = client(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func backend(args []string) error {
	fs := flag.NewFlagSet("backend", flag.ContinueOnError)
	listen := fs.String("listen", ":80", "address")
	name := fs.String("name", "web", "server name shown in replies")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health_check.php", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "OK\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "served by %s: %s %s (X-Forwarded-For: %s)\n", *name, r.Method, r.URL.Path, r.Header.Get("X-Forwarded-For"))
	})
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		return err
	}
	return nil
}

func client(args []string) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	url := fs.String("url", "http://10.10.0.100/", "URL")
	dur := fs.Duration("for", 8*time.Second, "run this long (bounded)")
	every := fs.Duration("every", 10*time.Millisecond, "one request per interval")
	timeout := fs.Duration("timeout", 200*time.Millisecond, "per-request timeout (connect and response)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	hc := &http.Client{
		Timeout: *timeout,
		Transport: &http.Transport{
			DisableKeepAlives: true, // each request finds the VIP's current owner
			DialContext:       (&net.Dialer{Timeout: *timeout}).DialContext,
		},
	}
	start := time.Now()
	deadline := start.Add(*dur)
	var ok, fail int
	var outageStart, lastOK time.Time
	var longest time.Duration
	servedBy := map[string]int{}
	nextReport := start.Add(time.Second)
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for now := range tick.C {
		if now.After(deadline) {
			break
		}
		resp, err := hc.Get(*url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ok++
				if !outageStart.IsZero() {
					if d := time.Since(outageStart); d > longest {
						longest = d
					}
					fmt.Printf("  %6.3fs  recovered after %v without a good answer\n", time.Since(start).Seconds(), time.Since(outageStart).Round(time.Millisecond))
					outageStart = time.Time{}
				}
				lastOK = time.Now()
				if f := strings.Fields(string(body)); len(f) >= 3 {
					servedBy[strings.TrimSuffix(f[2], ":")]++
				}
				goto report
			}
		}
		fail++
		if outageStart.IsZero() {
			outageStart = lastOK
			if outageStart.IsZero() {
				outageStart = now
			}
			fmt.Printf("  %6.3fs  request failed: %v\n", time.Since(start).Seconds(), errText(err, resp))
		}
	report:
		if now.After(nextReport) {
			fmt.Printf("  %6.3fs  ok=%d failed=%d served by %v\n", time.Since(start).Seconds(), ok, fail, servedBy)
			nextReport = nextReport.Add(time.Second)
		}
	}
	fmt.Printf("client: %d ok, %d failed; longest outage seen by the client: %v\n", ok, fail, longest.Round(time.Millisecond))
	return nil
}

func errText(err error, resp *http.Response) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}
