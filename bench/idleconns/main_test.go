package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbd-ha/lbd/bench/internal/loadclient"
)

func TestLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:80": true, "127.1.2.3:8080": true, "[::1]:80": true,
		"10.0.0.1:80": false, "example.com:80": false, "0.0.0.0:80": false, "127.0.0.1": false,
	} {
		if err := loadclient.LoopbackOnly(addr); (err == nil) != ok {
			t.Errorf("loadclient.LoopbackOnly(%q) = %v, want ok=%v", addr, err, ok)
		}
	}
}

func TestOpenAllHoldsConnections(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conns, err := openAll(ctx, addr, 40, 8, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		if c == nil {
			t.Fatalf("connection %d missing", i)
		}
		defer c.Close()
	}
	// Every connection is still open and reusable: a second request works.
	for _, c := range conns[:3] {
		if err := oneRequest(ctx, c); err != nil {
			t.Errorf("keep-alive connection unusable: %v", err)
		}
	}
}

func TestOpenAllReportsErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("bye"))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conns, err := openAll(ctx, strings.TrimPrefix(srv.URL, "http://"), 5, 2, false)
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	if err == nil || !strings.Contains(err.Error(), "closed the keep-alive") {
		t.Errorf("got %v, want a closed keep-alive error", err)
	}
}

func TestOpenAllTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			t.Error("request not over TLS")
		}
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conns, err := openAll(ctx, strings.TrimPrefix(srv.URL, "https://"), 4, 2, true)
	for _, c := range conns {
		if c != nil {
			defer c.Close()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenBurstSendsAllAtOnce(t *testing.T) {
	var inFlight, peak atomic.Int64
	release := make(chan struct{})
	var once sync.Once
	const n = 30
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := inFlight.Add(1); v > peak.Load() {
			peak.Store(v)
		}
		if inFlight.Load() == n {
			once.Do(func() { close(release) })
		}
		select { // every request is held until all n are in
		case <-release:
		case <-time.After(5 * time.Second):
		}
		inFlight.Add(-1)
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conns, err := openBurst(ctx, strings.TrimPrefix(srv.URL, "http://"), n, 4, false)
	for _, c := range conns {
		if c != nil {
			defer c.Close()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p != n {
		t.Errorf("at most %d requests were in the server at once, want all %d", p, n)
	}
	if err := oneRequest(ctx, conns[0]); err != nil {
		t.Errorf("keep-alive connection unusable after the burst: %v", err)
	}
}
