package checks

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestCheckSendProxy: TCP and HTTP checks start with the PROXY header.
func TestCheckSendProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			b := make([]byte, 16)
			if _, err := br.Read(b[:5]); err != nil {
				c.Close()
				continue
			}
			if string(b[:5]) == "PROXY" {
				line, _ := br.ReadString('\n')
				got <- "PROXY" + line
			} else {
				got <- "v2"
			}
			c.Write([]byte("HTTP/1.0 200 OK\r\n\r\n"))
			c.Close()
		}
	}()
	to := Timeouts{Inter: 2 * time.Second, Connect: time.Second, Check: time.Second}
	r := (&TCPCheck{Addr: ln.Addr().String(), Timeouts: to, SendProxy: 1}).Check(context.Background())
	if r.Code != L4OK {
		t.Errorf("tcp check: %+v", r)
	}
	if s := <-got; !strings.HasPrefix(s, "PROXY TCP4 127.0.0.1 127.0.0.1 ") {
		t.Errorf("v1 header %q", s)
	}
	hc := &HTTPCheck{Addr: ln.Addr().String(), Request: BuildRequest("", "", "", "", ln.Addr().String()), Timeouts: to, SendProxy: 2}
	if r := hc.Check(context.Background()); r.Code != L7OK {
		t.Errorf("http check: %+v", r)
	}
	if s := <-got; s != "v2" {
		t.Errorf("v2 header %q", s)
	}
}
