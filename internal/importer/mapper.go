package importer

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lbd-ha/lbd/internal/config"
)

// mapper accumulates the imported configuration, the warnings and the
// comments to attach to YAML nodes (keyed by node path, see encode.go).
type mapper struct {
	cfg      *config.Config
	warnings []Warning
	head     map[string][]string // comment lines above the node at path
	line     map[string]string   // comment after the node at path
	file     string              // file being mapped, for warnings

	// haproxy state
	frontNames map[string]int // frontend and listen names -> line
	backNames  map[string]int // backend and listen names -> line
	refs       []backendRef   // use_backend/default_backend references
	trackable  []string       // frontends and listens, for track_script
	pushdown   []hLine        // defaults lines lbd's defaults cannot hold
	// defSSL holds TLS-to-server settings of a defaults default-server
	// line without ssl: servers that turn ssl on take them.
	defSSL config.ServerSSL
	// defSSLOn: the defaults section's default-server says ssl.
	defSSLOn bool
}

type backendRef struct {
	line int
	name string
}

func newMapper() *mapper {
	return &mapper{
		cfg:        &config.Config{},
		head:       map[string][]string{},
		line:       map[string]string{},
		frontNames: map[string]int{},
		backNames:  map[string]int{},
	}
}

// note records a SeverityNote and writes it as a comment at path.
func (m *mapper) note(line int, directive, path, format string, a ...any) {
	m.add(SeverityNote, line, directive, path, fmt.Sprintf(format, a...))
}

// warnf records a SeverityWarning and writes it as a comment at path.
func (m *mapper) warnf(line int, directive, path, format string, a ...any) {
	m.add(SeverityWarning, line, directive, path, fmt.Sprintf(format, a...))
}

func (m *mapper) add(sev Severity, line int, directive, path, msg string) {
	w := Warning{File: m.file, Line: line, Directive: directive, Message: msg, Severity: sev, path: path}
	m.warnings = append(m.warnings, w)
	tag := "NOTE"
	if sev == SeverityWarning {
		tag = "WARNING"
	}
	m.head[path] = append(m.head[path], fmt.Sprintf("%s %s:%d %s: %s", tag, filepath.Base(m.file), line, directive, msg))
}

// comments carries a directive's source comments to the node at path.
func (m *mapper) comments(path string, l hLine) {
	m.head[path] = append(m.head[path], l.Head...)
	if l.Trailing != "" {
		if old := m.line[path]; old != "" {
			m.line[path] = old + "; " + l.Trailing
		} else {
			m.line[path] = l.Trailing
		}
	}
}

// lineComment adds text to the comment after the node at path.
func (m *mapper) lineComment(path, text string) {
	if old := m.line[path]; old != "" {
		m.line[path] = old + "; " + text
	} else {
		m.line[path] = text
	}
}

func (m *mapper) errf(line int, format string, a ...any) error {
	return &ParseError{File: m.file, Line: line, Msg: fmt.Sprintf(format, a...)}
}

// parseHAProxyTime parses an HAProxy time: a number with an optional unit
// (us, ms, s, m, h, d); no unit means milliseconds.
func parseHAProxyTime(s string) (time.Duration, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i > 12 {
		return 0, fmt.Errorf("invalid time %q (want a number with an optional unit us, ms, s, m, h, d)", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid time %q: %w", s, err)
	}
	var unit time.Duration
	switch s[i:] {
	case "", "ms":
		unit = time.Millisecond
	case "us":
		unit = time.Microsecond
	case "s":
		unit = time.Second
	case "m":
		unit = time.Minute
	case "h":
		unit = time.Hour
	case "d":
		unit = 24 * time.Hour
	default:
		return 0, fmt.Errorf("invalid time unit in %q (want us, ms, s, m, h or d)", s)
	}
	const maxTime = 24 * 365 * time.Hour
	if n > int64(maxTime/unit) {
		return 0, fmt.Errorf("time %q too large (at most one year)", s)
	}
	return time.Duration(n) * unit, nil
}

// formatDuration writes d with its largest exact unit: 5s, 1m, 500ms, 24h.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "us"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return d.String()
}

func (m *mapper) atoi(line int, what, s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, m.errf(line, "%s: invalid number %q (want %d..%d)", what, s, lo, hi)
	}
	return n, nil
}

func (m *mapper) duration(line int, what, s string) (time.Duration, error) {
	d, err := parseHAProxyTime(s)
	if err != nil {
		return 0, m.errf(line, "%s: %v", what, err)
	}
	return d, nil
}

// directiveName is the keyword of a line as users name it: the first word,
// plus the second for multi-word keywords (option X, timeout X, stats X).
func directiveName(args []string) string {
	if len(args) == 0 {
		return ""
	}
	switch args[0] {
	case "option", "timeout", "stats", "http-check", "http-request", "http-response", "tcp-request", "tcp-response":
		if len(args) > 1 {
			return args[0] + " " + args[1]
		}
	case "no":
		if len(args) > 2 && args[1] == "option" {
			return "no option " + args[2]
		}
	}
	return args[0]
}

func boolp(b bool) *bool { return &b }
func intp(n int) *int    { return &n }

func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'#\\\r\n") {
			out[i] = strconv.Quote(a)
		} else {
			out[i] = a
		}
	}
	return strings.Join(out, " ")
}

// sortedKeys returns the comment paths sorted, for stable output.
func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
