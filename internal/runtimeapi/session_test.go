package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// converse runs one session on a unix socket: it sends in, half-closes
// (as `echo ... | socat` does) and returns everything the session wrote
// until it closed.
func converse(t *testing.T, b Backend, level Level, in string) string {
	t.Helper()
	cli, srv := unixPair(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		serveTest(srv, bufio.NewReader(srv), b, level)
	}()
	go func() {
		cli.SetWriteDeadline(time.Now().Add(5 * time.Second))
		cli.Write([]byte(in))
		cli.CloseWrite()
	}()
	cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, _ := io.ReadAll(cli)
	cli.Close()
	<-done
	return string(out)
}

// unixPair returns the two ends of a unix stream connection.
func unixPair(t *testing.T) (*net.UnixConn, net.Conn) {
	t.Helper()
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cli, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return cli.(*net.UnixConn), srv
}

func serveTest(c net.Conn, r *bufio.Reader, b Backend, level Level) {
	Serve(context.Background(), c, r, b, level, "test")
}

func TestCommandsAnswerLikeHAProxy(t *testing.T) {
	cases := []struct{ in, want string }{
		{"get weight be/web02\n", "50 (initial 50)\n\n"},
		{"get weight\n", "Require 'backend/server'.\n\n"},
		{"get weight be/nope\n", "No such server.\n\n"},
		{"get weight nope/web01\n", "No such backend.\n\n"},
		{"disable server be\n", "Require 'backend/server'.\n\n"},
		{"show backend\n", "# name\nbe\n\n"},
		{"show backend;get weight be/web01\n", "# name\nbe\n\n1 (initial 1)\n\n"},
		{"set server be/web01 state foo\n", "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n"},
		{"set server be/web01 weight 300\n", "Absolute weight can only be between 0 and 256 inclusive.\n\n"},
		{"set server be/web01 weight abc\n", "Empty weight string empty or preceded by garbage\n"},
		{"disable frontend\n", "A frontend name is expected.\n\n"},
		{"enable frontend nope\n", "No such frontend.\n\n"},
		{"show servers state nope\n", "Can't find backend.\n\n"},
		{"show cli level\n", "admin\n\n"},
		{"quit\n", ""},
		{"show errors\n", "Total events captured on [04/Dec/2026:12:00:00.000] : 0\n\n"},
	}
	for _, c := range cases {
		got := converseNow(t, newFake(), LevelAdmin, c.in)
		if got != c.want {
			t.Errorf("%q:\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// converseNow is converse with the session clock pinned to testNow.
func converseNow(t *testing.T, b Backend, level Level, in string) string {
	old := sessionNow
	sessionNow = func() time.Time { return testNow }
	defer func() { sessionNow = old }()
	return converse(t, b, level, in)
}

func TestChangesGoThroughBackend(t *testing.T) {
	f := newFake()
	in := "disable server be/web01;enable server be/web01;set server be/web02 state drain;" +
		"set server be/web02 weight 7;set weight be/web02 50%;disable health be/web01;enable frontend fe\n"
	if got := converse(t, f, LevelAdmin, in); got != strings.Repeat("\n", 7) {
		t.Fatalf("answers %q", got)
	}
	want := []string{"admin be/web01 maint", "admin be/web01 ready", "admin be/web02 drain",
		"weight be/web02 7", "weight be/web02 25", "health be/web01 false", "frontend fe true"}
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

func TestLevels(t *testing.T) {
	for _, c := range []struct {
		level Level
		in    string
		want  string
	}{
		{LevelOperator, "disable server be/web01\n", "Permission denied\n\n"},
		{LevelOperator, "set weight be/web01 5\n", "Permission denied\n\n"},
		{LevelUser, "show sess\n", "Permission denied\n\n"},
		{LevelUser, "show errors\n", "Permission denied\n\n"},
		{LevelUser, "get weight be/web01\n", "1 (initial 1)\n\n"},
		{LevelAdmin, "user;show cli level;disable server be/web01\n", "\nuser\n\nPermission denied\n\n"},
	} {
		f := newFake()
		if got := converse(t, f, c.level, c.in); got != c.want {
			t.Errorf("level %v %q: got %q want %q", c.level, c.in, got, c.want)
		}
		if len(f.Calls()) != 0 {
			t.Errorf("level %v %q changed something: %v", c.level, c.in, f.Calls())
		}
	}
	help := converse(t, newFake(), LevelUser, "help\n")
	if strings.Contains(help, "disable server") || !strings.Contains(help, "show stat") {
		t.Errorf("help at level user lists the wrong commands:\n%s", help)
	}
}

func TestUnknownCommand(t *testing.T) {
	got := converse(t, newFake(), LevelAdmin, "show nothing\n")
	if !strings.HasPrefix(got, "Unknown command, but maybe one of the following ones is a better match:\n  ") ||
		!strings.Contains(got, "show stat") || strings.Contains(got, "disable server") || !strings.HasSuffix(got, "close this connection\n\n") {
		t.Errorf("got %q", got)
	}
	got = converse(t, newFake(), LevelAdmin, "prompt\nfrobnicate\n")
	if !strings.HasPrefix(got, "\n> Unknown command. Please enter one of the following commands only:\n") {
		t.Errorf("got %q", got)
	}
}

func TestPromptMode(t *testing.T) {
	got := converse(t, newFake(), LevelAdmin, "prompt\nshow backend\nget weight be/web02\nquit\n")
	want := "\n> # name\nbe\n\n> 50 (initial 50)\n\n> "
	if got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

// Without prompt, a client that sends one line and waits for the close
// (Ansible's module does) gets its answer and EOF.
func TestNonInteractiveClosesAfterLine(t *testing.T) {
	cli, srv := net.Pipe()
	go Serve(context.Background(), srv, nil, newFake(), LevelAdmin, "test")
	go cli.Write([]byte("show backend\n"))
	cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, err := io.ReadAll(cli)
	if err != nil || string(out) != "# name\nbe\n\n" {
		t.Fatalf("got %q, %v", out, err)
	}
}

func TestHostileInput(t *testing.T) {
	long := strings.Repeat("a", 1<<20) + "\n"
	if got := converse(t, newFake(), LevelAdmin, long); got != "Command line too long.\n\n" {
		t.Errorf("1 MB line: got %.100q", got)
	}
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(i*7 + i/13)
	}
	got := converse(t, newFake(), LevelAdmin, string(garbage))
	if got != "" && !strings.Contains(got, "Unknown command") && !strings.Contains(got, "too long") {
		t.Errorf("garbage: got %.200q", got)
	}
}

func TestIdleClientIsClosed(t *testing.T) {
	cli, srv := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		Serve(context.Background(), srv, nil, newFake(), LevelAdmin, "test")
	}()
	// set timeout cli shortens this session's idle wait.
	go cli.Write([]byte("prompt\nset timeout cli 100ms\n"))
	cli.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	out, _ := io.ReadAll(cli)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("session still open")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("idle session closed after %v", el)
	}
	if !bytes.HasSuffix(out, []byte("> ")) {
		t.Errorf("got %q", out)
	}
}

func TestSplitCommands(t *testing.T) {
	for _, c := range []struct {
		in   string
		want [][]string
	}{
		{"show stat", [][]string{{"show", "stat"}}},
		{"  show   info ; show stat  ", [][]string{{"show", "info"}, {"show", "stat"}}},
		{`get weight a\;b/c`, [][]string{{"get", "weight", "a;b/c"}}},
		{`x\ y`, [][]string{{"x y"}}},
		{"", [][]string{nil}},
		{";", [][]string{nil}},
	} {
		got := splitCommands([]byte(c.in))
		if len(got) != len(c.want) {
			t.Errorf("%q: got %q", c.in, got)
			continue
		}
		for i := range got {
			if !slices.Equal(got[i], c.want[i]) {
				t.Errorf("%q: got %q want %q", c.in, got, c.want)
			}
		}
	}
}
