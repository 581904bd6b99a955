package importer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"unicode/utf8"

	"github.com/lbd-ha/lbd/internal/config"
)

// Size limits for both parsers. Input beyond them is an error, not a
// truncation.
const (
	// MaxFileSize is the largest configuration file read (4 MiB).
	MaxFileSize = 4 << 20
	// MaxLineLen is the longest line accepted, in bytes.
	MaxLineLen = 8192
	// MaxLines is the most lines a file may have.
	MaxLines = 200000
	// MaxWords is the most words on one line (HAProxy's MAX_LINE_ARGS is 64).
	MaxWords = 256
	// MaxDepth is the deepest keepalived block nesting accepted.
	MaxDepth = 16
)

// Options selects the files to import. At least one of HAProxyPath or
// KeepalivedPath must be set (lbctl always sets HAProxyPath).
type Options struct {
	// HAProxyPath is the haproxy.cfg to import.
	HAProxyPath string
	// KeepalivedPath is the keepalived.conf to import; optional.
	KeepalivedPath string
	// HAProxy and Keepalived, when non-nil, are read instead of opening the
	// paths; the paths still name the inputs in messages and the header.
	HAProxy    io.Reader
	Keepalived io.Reader
}

// Severity says whether a Warning changes what the imported config does.
type Severity int

const (
	// SeverityNote: the directive's purpose is covered another way by lbd
	// or systemd (daemon, pidfile, state MASTER, ...). Exit code 0.
	SeverityNote Severity = iota
	// SeverityWarning: the directive is not supported and was left out, or
	// lbd behaves differently. Exit code 2.
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityNote {
		return "note"
	}
	return "warning"
}

// Warning reports one directive that did not map one to one.
type Warning struct {
	File      string
	Line      int
	Directive string
	// Message says what lbd does instead, or "not supported".
	Message  string
	Severity Severity

	path string // YAML node the comment is attached to
}

// String renders "file:line: warning: directive: message".
func (w Warning) String() string {
	return fmt.Sprintf("%s:%d: %s: %s: %s", w.File, w.Line, w.Severity, w.Directive, w.Message)
}

// Result is an imported configuration.
type Result struct {
	// YAML is the commented lbd.yaml.
	YAML []byte
	// Config is the configuration the YAML holds, before config.Load
	// applies defaults.
	Config *config.Config
	// Warnings lists, in file order, every directive that did not map one
	// to one (notes included).
	Warnings []Warning
}

// ExitCode is 0 when every directive mapped (notes only) and 2 when at least
// one was left out or behaves differently (a SeverityWarning).
func (r *Result) ExitCode() int {
	for _, w := range r.Warnings {
		if w.Severity == SeverityWarning {
			return 2
		}
	}
	return 0
}

// ParseError is invalid input at a position in a file.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// ErrNoInput is returned when Options names no file.
var ErrNoInput = errors.New("import: no haproxy.cfg or keepalived.conf given")

// Import reads the configured files and converts them to lbd.yaml.
func Import(opts Options) (*Result, error) {
	if opts.HAProxyPath == "" && opts.HAProxy == nil && opts.KeepalivedPath == "" && opts.Keepalived == nil {
		return nil, ErrNoInput
	}
	m := newMapper()
	var sources []string
	if opts.HAProxyPath != "" || opts.HAProxy != nil {
		name := nameOf(opts.HAProxyPath, "haproxy.cfg")
		data, err := readInput(name, opts.HAProxyPath, opts.HAProxy)
		if err != nil {
			return nil, err
		}
		f, err := parseHAProxy(name, data)
		if err != nil {
			return nil, err
		}
		if err := m.mapHAProxy(f); err != nil {
			return nil, err
		}
		sources = append(sources, "haproxy.cfg      "+name)
	}
	if opts.KeepalivedPath != "" || opts.Keepalived != nil {
		name := nameOf(opts.KeepalivedPath, "keepalived.conf")
		data, err := readInput(name, opts.KeepalivedPath, opts.Keepalived)
		if err != nil {
			return nil, err
		}
		f, err := parseKeepalived(name, data)
		if err != nil {
			return nil, err
		}
		if err := m.mapKeepalived(f); err != nil {
			return nil, err
		}
		sources = append(sources, "keepalived.conf  "+name)
	}
	out, err := m.render(sources)
	if err != nil {
		return nil, fmt.Errorf("import: render yaml: %w", err)
	}
	// Warnings in file order: haproxy.cfg first, then keepalived.conf.
	rank := map[string]int{}
	for _, w := range m.warnings {
		if _, ok := rank[w.File]; !ok {
			rank[w.File] = len(rank)
		}
	}
	sort.SliceStable(m.warnings, func(i, j int) bool {
		a, b := m.warnings[i], m.warnings[j]
		if rank[a.File] != rank[b.File] {
			return rank[a.File] < rank[b.File]
		}
		return a.Line < b.Line
	})
	return &Result{YAML: out, Config: m.cfg, Warnings: m.warnings}, nil
}

func nameOf(path, def string) string {
	if path != "" {
		return path
	}
	return def
}

// readInput reads at most MaxFileSize bytes from r, or from path when r is nil.
func readInput(name, path string, r io.Reader) ([]byte, error) {
	if r == nil {
		f, err := os.Open(filepath.Clean(path))
		if err != nil {
			return nil, fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("import: read %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return nil, &ParseError{File: name, Msg: fmt.Sprintf("file larger than %d bytes", MaxFileSize)}
	}
	return data, nil
}

// splitLines splits data into lines (without terminators), enforcing the
// line count and length limits and rejecting NUL bytes and invalid UTF-8.
func splitLines(name string, data []byte) ([]string, error) {
	var lines []string
	n := 0
	for len(data) > 0 {
		n++
		if n > MaxLines {
			return nil, &ParseError{File: name, Line: n, Msg: fmt.Sprintf("too many lines (more than %d)", MaxLines)}
		}
		i := bytes.IndexByte(data, '\n')
		var line []byte
		if i < 0 {
			line, data = data, nil
		} else {
			line, data = data[:i], data[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) > MaxLineLen {
			return nil, &ParseError{File: name, Line: n, Msg: fmt.Sprintf("line too long (%d bytes, at most %d)", len(line), MaxLineLen)}
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return nil, &ParseError{File: name, Line: n, Msg: "NUL byte in line"}
		}
		if !utf8.Valid(line) {
			return nil, &ParseError{File: name, Line: n, Msg: "invalid UTF-8"}
		}
		lines = append(lines, string(line))
	}
	return lines, nil
}
