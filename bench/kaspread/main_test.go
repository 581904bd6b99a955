package main

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/bench/internal/loadclient"
)

func TestReadResponse(t *testing.T) {
	for in, ok := range map[string]bool{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc":                            true,
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc":       false,
		"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n":              false,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n": false,
		"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc":                            false,
	} {
		err := readResponse(bufio.NewReader(strings.NewReader(in)))
		if (err == nil) != ok {
			t.Errorf("%q: err %v, want ok=%v", in, err, ok)
		}
	}
}

func TestLoopRunsAndReports(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	res := make([]connResult, 3)
	for i := range res {
		end := time.Now().Add(50 * time.Millisecond)
		if err := loop(addr, end, time.Second, &res[i]); err != nil {
			t.Fatal(err)
		}
		if len(res[i].lat) == 0 {
			t.Fatalf("connection %d sent no request", i)
		}
	}
	var b strings.Builder
	report(&b, res, time.Second)
	if !strings.Contains(b.String(), "0 failed") || !strings.Contains(b.String(), "requests per connection") {
		t.Errorf("report:\n%s", b.String())
	}
	if err := loadclient.LoopbackOnly("10.0.0.1:80"); err == nil {
		t.Error("a non-loopback address was accepted")
	}
}
