package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/lbd-ha/lbd/bench/internal/loadclient"
)

const maxConns = 20000

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kaspread:", err)
		os.Exit(1)
	}
}

// connResult is what one connection did.
type connResult struct {
	lat    []time.Duration // per request, in order
	first  time.Time       // when its first request was sent
	failed error
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("kaspread", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "proxy address (loopback only)")
	n := fs.Int("c", 1000, "connections")
	d := fs.Duration("d", 5*time.Second, "duration of the load (1s..120s)")
	timeout := fs.Duration("timeout", 5*time.Second, "per-request timeout (a timeout fails the connection)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *n > maxConns {
		return fmt.Errorf("-c must be 1..%d", maxConns)
	}
	if *d < time.Second || *d > 120*time.Second {
		return errors.New("-d must be 1s..120s")
	}
	if err := loadclient.LoopbackOnly(*addr); err != nil {
		return err
	}
	if err := loadclient.RaiseNofile(uint64(*n) + 256); err != nil {
		return err
	}
	res := make([]connResult, *n)
	start := time.Now()
	end := start.Add(*d)
	var wg sync.WaitGroup
	for i := range res {
		wg.Add(1)
		go func(r *connResult) {
			defer wg.Done()
			r.failed = loop(*addr, end, *timeout, r)
		}(&res[i])
	}
	wg.Wait()
	report(stdout, res, time.Since(start))
	return nil
}

var request = []byte("GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: kaspread\r\n\r\n")

// loop runs one connection's closed loop until end.
func loop(addr string, end time.Time, timeout time.Duration, r *connResult) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 8192)
	for time.Now().Before(end) {
		t0 := time.Now()
		if r.first.IsZero() {
			r.first = t0
		}
		c.SetDeadline(t0.Add(timeout))
		if _, err := c.Write(request); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if err := readResponse(br); err != nil {
			return err
		}
		r.lat = append(r.lat, time.Since(t0))
	}
	return nil
}

// readResponse reads one response with a Content-Length body; anything
// else (no length, a close, a non-200 status) is a failure.
func readResponse(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("read status: %w", err)
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("status line %q", bytes.TrimSpace(line))
	}
	length := -1
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read header: %w", err)
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		k, v = bytes.TrimSpace(k), bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("content-length")):
			length, err = strconv.Atoi(string(v))
			if err != nil || length < 0 || length > 1<<20 {
				return fmt.Errorf("content-length %q", v)
			}
		case bytes.EqualFold(k, []byte("connection")) && bytes.EqualFold(v, []byte("close")):
			return errors.New("the proxy closed the keep-alive connection")
		}
	}
	if length < 0 {
		return errors.New("response without content-length")
	}
	if _, err := br.Discard(length); err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	return nil
}

func pct(v []time.Duration, p float64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	i := int(p * float64(len(v)-1))
	return v[i]
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }

// report prints the latency percentiles (all requests, first requests,
// later requests) and the spread of per-connection request counts.
func report(w io.Writer, res []connResult, took time.Duration) {
	var all, first, later []time.Duration
	counts := make([]int, 0, len(res))
	failed := 0
	var firstErr error
	var t0, tLast time.Time
	for _, r := range res {
		if r.failed != nil {
			failed++
			if firstErr == nil {
				firstErr = r.failed
			}
		}
		counts = append(counts, len(r.lat))
		all = append(all, r.lat...)
		if len(r.lat) > 0 {
			first = append(first, r.lat[0])
			later = append(later, r.lat[1:]...)
		}
		if !r.first.IsZero() {
			if t0.IsZero() || r.first.Before(t0) {
				t0 = r.first
			}
			if r.first.After(tLast) {
				tLast = r.first
			}
		}
	}
	for _, v := range [][]time.Duration{all, first, later} {
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	}
	sort.Ints(counts)
	ci := func(p float64) int { return counts[int(p*float64(len(counts)-1))] }
	fmt.Fprintf(w, "requests %d in %.2fs: %.0f req/s, %d connections, %d failed\n",
		len(all), took.Seconds(), float64(len(all))/took.Seconds(), len(res), failed)
	if firstErr != nil {
		fmt.Fprintf(w, "first failure: %v\n", firstErr)
	}
	for _, s := range []struct {
		name string
		v    []time.Duration
	}{{"all", all}, {"first", first}, {"later", later}} {
		fmt.Fprintf(w, "latency ms %-5s n=%-7d p50 %s p90 %s p99 %s p99.9 %s max %s\n", s.name, len(s.v),
			ms(pct(s.v, 0.5)), ms(pct(s.v, 0.9)), ms(pct(s.v, 0.99)), ms(pct(s.v, 0.999)), ms(pct(s.v, 1)))
	}
	fmt.Fprintf(w, "requests per connection: min %d p1 %d p10 %d p50 %d p90 %d max %d\n",
		ci(0), ci(0.01), ci(0.1), ci(0.5), ci(0.9), ci(1))
	fmt.Fprintf(w, "first requests sent over %s ms\n", ms(tLast.Sub(t0)))
}
