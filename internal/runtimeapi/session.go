package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"time"
)

// Limits of one session.
const (
	// MaxLine is the longest command line accepted (HAProxy's is its
	// buffer size, 16 kB); a longer line is answered and the connection
	// closed.
	MaxLine = 16 << 10
	// DefaultIdle is how long a session waits for a command (HAProxy's
	// `stats timeout` default).
	DefaultIdle = 10 * time.Second
	// maxIdle bounds `set timeout cli`.
	maxIdle = time.Hour
	// writeTimeout bounds sending one response.
	writeTimeout = 10 * time.Second
)

// sessionNow is the clock of new sessions (tests pin it).
var sessionNow = time.Now

var errLineTooLong = errors.New("command line too long")

type session struct {
	b           Backend
	level       Level
	who         string
	idle        time.Duration
	interactive bool
	now         func() time.Time
}

// Serve runs one runtime API session on c at level and closes c. r reads
// c (it may hold bytes already read from c). In the default mode the
// connection closes after the command line that arrived first (and any
// lines already received with it); `prompt` switches to interactive mode,
// where each response ends with "> " and the session lasts until quit, EOF
// or the idle timeout.
func Serve(ctx context.Context, c net.Conn, r *bufio.Reader, b Backend, level Level, who string) {
	defer c.Close()
	if r == nil {
		r = bufio.NewReaderSize(c, 4096)
	}
	s := &session{b: b, level: level, who: who, idle: DefaultIdle, now: sessionNow}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	var out bytes.Buffer
	for {
		c.SetReadDeadline(time.Now().Add(s.idle))
		line, err := readLine(r)
		if errors.Is(err, errLineTooLong) {
			s.write(c, []byte("Command line too long.\n\n"))
			return
		}
		if err != nil && len(line) == 0 {
			return // EOF, idle timeout, shutdown
		}
		out.Reset()
		quit := s.execLine(&out, line)
		if s.interactive && !quit {
			out.WriteString("> ")
		}
		if !s.write(c, out.Bytes()) || quit || err != nil {
			return
		}
		// Non-interactive: answer what was sent together, then close.
		if !s.interactive && r.Buffered() == 0 {
			return
		}
	}
}

func (s *session) write(c net.Conn, p []byte) bool {
	c.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := c.Write(p)
	return err == nil
}

// readLine returns the next line without its "\n" (and "\r"), or the
// unterminated rest at EOF together with the error.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		frag, err := r.ReadSlice('\n')
		if len(line)+len(frag) > MaxLine+1 {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return line, err // at EOF: the unterminated rest, if any
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		return line, nil
	}
}

// execLine runs each command of one line and writes their responses to
// out; it reports whether the session must end (quit).
func (s *session) execLine(out *bytes.Buffer, line []byte) (quit bool) {
	for _, args := range splitCommands(line) {
		if len(args) == 1 && args[0] == "quit" {
			return true
		}
		if len(args) == 1 && args[0] == "prompt" {
			s.interactive = !s.interactive
			out.WriteByte('\n')
			continue
		}
		out.WriteString(s.exec(args))
		out.WriteByte('\n')
	}
	return false
}

// exec runs one command and returns its output.
func (s *session) exec(args []string) string {
	c := lookup(args)
	if c == nil || c.run == nil {
		return unknownCommand(s, args)
	}
	if c.level > s.level {
		return "Permission denied\n"
	}
	return c.run(s, args)
}
