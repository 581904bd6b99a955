package logs

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
)

// DefaultQueueSize is the number of lines a Logger buffers before it drops.
const DefaultQueueSize = 4096

// MaxLine bounds one message (without the syslog header); longer ones are
// truncated.
const MaxLine = 8192

// Options tune a Logger. The zero value is the production setting.
type Options struct {
	// Tag is the syslog program name; default "lbd".
	Tag string
	// PID in the syslog header; default os.Getpid().
	PID int
	// Hostname is written in the syslog header when set. HAProxy omits it by
	// default (log-send-hostname off) and so does lbd: rsyslog then fills in
	// the sender's host.
	Hostname string
	// Now returns the time for the syslog header, in the location the header
	// should show (time.Now gives local time, as syslog expects).
	Now func() time.Time
	// QueueSize is the bounded queue length; default DefaultQueueSize.
	QueueSize int
	// Stdout and Stderr receive the "stdout"/"stderr" targets; default
	// os.Stdout and os.Stderr.
	Stdout, Stderr io.Writer
	// WriteTimeout bounds one write to a unix socket; default 1s.
	WriteTimeout time.Duration
	// Frontends holds per-frontend log_format and log_privacy settings,
	// by frontend name; frontends not listed use httplog/tcplog as is.
	Frontends map[string]*FrontendLog
}

// sink is one destination. Writes happen on the Logger's single goroutine.
type sink interface {
	Write(p []byte) error
	Close() error
}

type target struct {
	facility int
	level    Severity
	stream   bool // stdout/stderr: bare message + '\n', no syslog header
	sink     sink
}

type entry struct {
	sev   Severity
	event bool
	at    time.Time
	buf   []byte
}

// Logger ships access-log and event lines to its targets without ever
// blocking the caller: lines go into a bounded queue drained by one
// goroutine; when the queue is full the line is dropped and counted.
type Logger struct {
	opts    Options
	targets []target
	q       chan *entry
	free    chan *entry // recycled entries; a channel, not a sync.Pool, so GC does not empty it
	stop    chan struct{}
	done    chan struct{}
	closed  atomic.Bool
	dropped atomic.Uint64
	errs    atomic.Uint64
	scratch []byte // used by the drain goroutine only
}

// NewLogger validates targets and starts the drain goroutine. UDP targets
// are resolved now; unix sockets are (re)connected lazily so a syslog
// daemon that starts later is picked up. An empty target list gives a
// Logger that discards everything (Log stays cheap).
func NewLogger(targets []config.LogTarget, opts Options) (*Logger, error) {
	if opts.Tag == "" {
		opts.Tag = "lbd"
	}
	if opts.PID == 0 {
		opts.PID = os.Getpid()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = time.Second
	}
	l := &Logger{opts: opts}
	for i, t := range targets {
		tg, err := l.newTarget(t)
		if err != nil {
			for _, prev := range l.targets {
				_ = prev.sink.Close()
			}
			return nil, fmt.Errorf("log target %d: %w", i+1, err)
		}
		l.targets = append(l.targets, tg)
	}
	l.start()
	return l, nil
}

// newLoggerWithSinks builds a Logger over ready sinks (tests).
func newLoggerWithSinks(targets []target, opts Options) *Logger {
	l := &Logger{opts: opts, targets: targets}
	l.start()
	return l
}

func (l *Logger) start() {
	if l.opts.QueueSize <= 0 {
		l.opts.QueueSize = DefaultQueueSize
	}
	l.q = make(chan *entry, l.opts.QueueSize)
	l.free = make(chan *entry, l.opts.QueueSize+64)
	l.stop = make(chan struct{})
	l.done = make(chan struct{})
	go l.run()
}

func (l *Logger) newTarget(t config.LogTarget) (target, error) {
	fac, err := ParseFacility(t.Facility)
	if err != nil {
		return target{}, err
	}
	lvl, err := ParseSeverity(t.Level)
	if err != nil {
		return target{}, err
	}
	pa, err := parseAddress(t.Address)
	if err != nil {
		return target{}, err
	}
	tg := target{facility: fac, level: lvl}
	switch pa.kind {
	case kindStdout:
		tg.stream, tg.sink = true, writerSink{l.opts.Stdout}
	case kindStderr:
		tg.stream, tg.sink = true, writerSink{l.opts.Stderr}
	case kindUnix:
		tg.sink = &unixSink{path: pa.addr, timeout: l.opts.WriteTimeout}
	case kindUDP:
		c, err := net.Dial("udp", pa.addr)
		if err != nil {
			return target{}, fmt.Errorf("dial syslog %s: %w", pa.addr, err)
		}
		tg.sink = connSink{c}
	}
	return tg, nil
}

// Log formats rec (httplog or tcplog) and queues it at severity info. It
// never blocks; when the queue is full the line is dropped and counted.
// Safe for concurrent use; a nil Logger discards.
func (l *Logger) Log(rec *Record) {
	if l == nil || len(l.targets) == 0 || l.closed.Load() {
		return
	}
	e := l.get()
	e.buf = AppendRecord(e.buf[:0], rec, l.opts.Frontends[rec.Frontend])
	if len(e.buf) > MaxLine {
		e.buf = e.buf[:MaxLine]
	}
	e.sev, e.event = Info, false
	l.enqueue(e)
}

// logEvent queues an event line (skipped by stdout/stderr targets, which
// would duplicate the daemon's own stderr in journald).
func (l *Logger) logEvent(sev Severity, msg []byte) {
	if l == nil || len(l.targets) == 0 || l.closed.Load() {
		return
	}
	e := l.get()
	e.buf = append(e.buf[:0], msg...)
	if len(e.buf) > MaxLine {
		e.buf = e.buf[:MaxLine]
	}
	e.sev, e.event = sev, true
	l.enqueue(e)
}

func (l *Logger) get() *entry {
	select {
	case e := <-l.free:
		return e
	default:
		return &entry{buf: make([]byte, 0, 512)}
	}
}

func (l *Logger) put(e *entry) {
	if cap(e.buf) > 4*MaxLine {
		return // do not keep a huge buffer around
	}
	select {
	case l.free <- e:
	default:
	}
}

func (l *Logger) enqueue(e *entry) {
	e.at = l.opts.Now()
	select {
	case l.q <- e:
	default:
		l.dropped.Add(1)
		l.put(e)
	}
}

// Dropped is the number of lines dropped because the queue was full.
func (l *Logger) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// WriteErrors is the number of failed writes to a target.
func (l *Logger) WriteErrors() uint64 {
	if l == nil {
		return 0
	}
	return l.errs.Load()
}

// errCloseStalled is returned by Close when a target did not drain in time.
var errCloseStalled = errors.New("log queue not drained: a log target is stalled")

// Close stops accepting lines, flushes what is queued (waiting at most 2s
// for a stalled target) and closes the targets. Later calls do nothing.
func (l *Logger) Close() error {
	if l == nil || !l.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(l.stop)
	select {
	case <-l.done:
		return nil
	case <-time.After(2 * time.Second):
		return errCloseStalled
	}
}

func (l *Logger) run() {
	defer close(l.done)
	for {
		select {
		case e := <-l.q:
			l.write(e)
		case <-l.stop:
			for {
				select {
				case e := <-l.q:
					l.write(e)
				default:
					for _, t := range l.targets {
						_ = t.sink.Close()
					}
					return
				}
			}
		}
	}
}

// write sends one entry to every target whose level admits it.
func (l *Logger) write(e *entry) {
	var tp timeParts
	_, mo, d := e.at.Date()
	tp.month, tp.day = int(mo), d
	tp.hour, tp.min, tp.sec = e.at.Clock()
	for i := range l.targets {
		t := &l.targets[i]
		if e.sev > t.level || (e.event && t.stream) {
			continue
		}
		b := l.scratch[:0]
		if t.stream {
			b = append(b, e.buf...)
			b = append(b, '\n')
		} else {
			b = appendSyslogHeader(b, t.facility*8+int(e.sev), tp, l.opts.Hostname, l.opts.Tag, l.opts.PID)
			b = append(b, e.buf...)
		}
		if err := t.sink.Write(b); err != nil {
			l.errs.Add(1)
		}
		l.scratch = b
	}
	l.put(e)
}

// connSink writes datagrams on a connected socket (UDP).
type connSink struct{ c net.Conn }

func (s connSink) Write(p []byte) error { _, err := s.c.Write(p); return err }
func (s connSink) Close() error         { return s.c.Close() }

// writerSink writes lines to an io.Writer (stdout/stderr).
type writerSink struct{ w io.Writer }

func (s writerSink) Write(p []byte) error { _, err := s.w.Write(p); return err }
func (s writerSink) Close() error         { return nil }

// unixSink writes datagrams to a unix socket such as /dev/log, connecting
// lazily and retrying at most once a second after a failure.
type unixSink struct {
	path     string
	timeout  time.Duration
	c        net.Conn
	failedAt time.Time
}

func (s *unixSink) Write(p []byte) error {
	if s.c == nil {
		if !s.failedAt.IsZero() && time.Since(s.failedAt) < time.Second {
			return fmt.Errorf("syslog socket %s: not connected", s.path)
		}
		c, err := net.Dial("unixgram", s.path)
		if err != nil {
			s.failedAt = time.Now()
			return fmt.Errorf("dial syslog socket %s: %w", s.path, err)
		}
		s.c, s.failedAt = c, time.Time{}
	}
	_ = s.c.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.c.Write(p); err != nil {
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Timeout()) {
			// The reader went away: reconnect on the next line.
			_ = s.c.Close()
			s.c = nil
			s.failedAt = time.Now()
		}
		return fmt.Errorf("write syslog socket %s: %w", s.path, err)
	}
	return nil
}

func (s *unixSink) Close() error {
	if s.c == nil {
		return nil
	}
	return s.c.Close()
}

// IsNull reports whether rec is what `option dontlognull` suppresses: an
// HTTP connection on which no request arrived and nothing was sent, or a TCP
// session that sent nothing to the client.
func IsNull(rec *Record) bool {
	if rec.TCP {
		return rec.BytesRead == 0
	}
	return rec.RequestLine == "" && rec.BytesRead == 0
}
