package sysctl

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// State reads and writes sysctl keys in dotted form (net.ipv4.ip_forward).
type State interface {
	Get(key string) (string, error)
	Set(key, value string) error
}

// Errors a State returns (wrapped) so Apply can tell the cases apart.
var (
	// ErrNotFound: the kernel has no such key (module not loaded, IPv6 off).
	ErrNotFound = errors.New("sysctl key not found")
	// ErrReadOnly: the key exists but cannot be written (read-only /proc/sys,
	// no CAP_SYS_ADMIN, a global key seen from a child namespace).
	ErrReadOnly = errors.New("sysctl key is read-only")
)

// Mode says how a Setting's value is applied.
type Mode int

const (
	// Exact writes Value unless the key already holds it.
	Exact Mode = iota
	// AtLeast treats Value as an integer minimum: the key is raised to it
	// when lower and left alone when equal or higher (never lowered).
	AtLeast
)

func (m Mode) String() string {
	if m == AtLeast {
		return ">="
	}
	return "="
}

// Setting is one row of the tuning table.
type Setting struct {
	// Key is the dotted sysctl name.
	Key string
	// Fallbacks are older names tried, in order, when Key does not exist.
	Fallbacks []string
	// Value is the wanted value (a minimum for AtLeast).
	Value string
	Mode  Mode
	// Why is the operator-facing reason (docs/sysctl.md repeats it).
	Why string
}

// NofileSlack is added to 2*maxconn for RLIMIT_NOFILE: listeners, health
// checks, the control socket, log files and netlink/raw sockets.
const NofileSlack = 1024

// NofileFor returns the RLIMIT_NOFILE lbd wants for maxconn: every proxied
// connection needs two descriptors (client and server side), plus slack.
func NofileFor(maxconn int) uint64 {
	if maxconn < 0 {
		maxconn = 0
	}
	return 2*uint64(maxconn) + NofileSlack
}

// Options select the rows of the tuning table. The caller (lbd's config
// loader) supplies every value; the zero Options yields only the fs.file-max
// row sized for NofileFor(0).
type Options struct {
	// NonlocalBind sets net.ipv4.ip_nonlocal_bind and its IPv6 twin to 1;
	// false leaves both keys as they are.
	NonlocalBind bool
	// Forward sets net.ipv4.ip_forward to 1; false leaves it as it is.
	Forward bool
	// FileMax is the minimum fs.file-max. The row is always present: the
	// minimum is raised to NofileFor(Maxconn) when that is higher, and 0
	// means only that.
	FileMax int64
	// ConntrackMax is the minimum net.netfilter.nf_conntrack_max; 0 leaves
	// the key out of the table.
	ConntrackMax int64
	// Maxconn is the process-wide connection limit that sizes
	// RLIMIT_NOFILE and the fs.file-max floor.
	Maxconn int
	// ReadOnly makes Apply read and report the keys without writing them
	// (each result carries the warning "not applied"); RLIMIT_NOFILE, a
	// process-local limit, is still raised.
	ReadOnly bool
}

// Settings is the table lbd applies for o. Disabled flags are absent from
// the table: lbd then leaves those keys as they are.
func Settings(o Options) []Setting {
	var s []Setting
	if o.NonlocalBind {
		s = append(s,
			Setting{Key: "net.ipv4.ip_nonlocal_bind", Value: "1", Mode: Exact,
				Why: "lets frontends bind the VIP on the backup node before VRRP moves it there, so failover needs no rebind"},
			Setting{Key: "net.ipv6.ip_nonlocal_bind", Value: "1", Mode: Exact,
				Why: "the same for IPv6 VIPs (absent when IPv6 is disabled: then a warning only)"},
		)
	}
	if o.Forward {
		s = append(s, Setting{Key: "net.ipv4.ip_forward", Value: "1", Mode: Exact,
			Why: "routing through the load balancer (default on, as the keepalived/HAProxy guides set it); set sysctl.ip_forward: false to leave it alone"})
	}
	fileMax := max(o.FileMax, 0)
	// The host-wide file table must hold at least this process's descriptors.
	if n := NofileFor(o.Maxconn); n <= 1<<62 && int64(n) > fileMax {
		fileMax = int64(n)
	}
	s = append(s, Setting{Key: "fs.file-max", Value: strconv.FormatInt(fileMax, 10), Mode: AtLeast,
		Why: "host-wide open file limit; must exceed the descriptors of every proxied connection (host-global: only raised)"})
	if o.ConntrackMax > 0 {
		s = append(s, Setting{Key: "net.netfilter.nf_conntrack_max", Fallbacks: []string{"net.ipv4.netfilter.ip_conntrack_max"},
			Value: strconv.FormatInt(o.ConntrackMax, 10), Mode: AtLeast,
			Why: "a full conntrack table drops new connections silently; absent when nf_conntrack is not loaded (then nothing is tracked and there is nothing to raise)"})
	}
	return s
}

// Result is one key (or RLIMIT_NOFILE, NofileKey) as Apply found and left
// it.
type Result struct {
	// Key is the name actually used (a fallback name when the main one is
	// absent).
	Key string
	// Old and New are the values before and after; both empty when the key
	// could not be read.
	Old, New string
	// Changed is true when Apply wrote a different value.
	Changed bool
	// Warning explains a key that could not be read or written, or was not
	// applied; empty when all went well.
	Warning string
}

// Apply applies the table for o and raises RLIMIT_NOFILE (when rl is not
// nil) to NofileFor(o.Maxconn). With o.ReadOnly the keys are only read and
// reported. Apply never fails: problems are Warnings on the results.
func Apply(o Options, st State, rl Rlimit) []Result {
	var rs []Result
	if o.ReadOnly {
		rs = Inspect(Settings(o), st)
	} else {
		rs = ApplySettings(Settings(o), st)
	}
	if rl != nil {
		rs = append(rs, RaiseNofile(NofileFor(o.Maxconn), rl))
	}
	return rs
}

// Inspect reads every setting's key without writing and reports it as
// unchanged with the warning "not applied (sysctl.apply is false)".
func Inspect(settings []Setting, st State) []Result {
	rs := make([]Result, 0, len(settings))
	for _, s := range settings {
		key, old, err := resolve(s, st)
		r := Result{Key: key, Old: old, New: old, Warning: "not applied (sysctl.apply is false)"}
		if err != nil {
			r.Warning = warnRead(key, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// ApplySettings applies each setting in order and returns one result per
// setting, old -> new.
func ApplySettings(settings []Setting, st State) []Result {
	rs := make([]Result, 0, len(settings))
	for _, s := range settings {
		rs = append(rs, applyOne(s, st))
	}
	return rs
}

// resolve finds the first existing name of s and its current value.
func resolve(s Setting, st State) (key, value string, err error) {
	for _, k := range append([]string{s.Key}, s.Fallbacks...) {
		v, err := st.Get(k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		return k, strings.TrimSpace(v), err
	}
	return s.Key, "", fmt.Errorf("%w (also tried %s)", ErrNotFound, orNone(s.Fallbacks))
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no other name"
	}
	return strings.Join(s, ", ")
}

func warnRead(key string, err error) string {
	if errors.Is(err, ErrNotFound) {
		return fmt.Sprintf("%s: not present, skipped: %v", key, err)
	}
	return fmt.Sprintf("%s: cannot read, skipped: %v", key, err)
}

func applyOne(s Setting, st State) Result {
	key, old, err := resolve(s, st)
	r := Result{Key: key, Old: old, New: old}
	if err != nil {
		r.Warning = warnRead(key, err)
		return r
	}
	want, err := decide(s, old)
	if err != nil {
		r.Warning = fmt.Sprintf("%s: %v, left unchanged", key, err)
		return r
	}
	if want == "" { // already there
		return r
	}
	if err := st.Set(key, want); err != nil {
		r.Warning = fmt.Sprintf("%s: cannot write %s (read-only /proc/sys or no CAP_SYS_ADMIN?), left at %s: %v", key, want, old, err)
		return r
	}
	now, err := st.Get(key)
	if err != nil {
		r.New = want
		r.Changed = true
		r.Warning = fmt.Sprintf("%s: wrote %s but cannot read it back: %v", key, want, err)
		return r
	}
	r.New = strings.TrimSpace(now)
	r.Changed = r.New != old
	if r.New != want {
		r.Warning = fmt.Sprintf("%s: wrote %s but the kernel reports %s", key, want, r.New)
	}
	return r
}

// decide returns the value to write, or "" when the key is already fine.
func decide(s Setting, old string) (string, error) {
	switch s.Mode {
	case Exact:
		if old == s.Value {
			return "", nil
		}
		return s.Value, nil
	case AtLeast:
		min, err := strconv.ParseUint(s.Value, 10, 64)
		if err != nil {
			return "", fmt.Errorf("bad minimum %q in table", s.Value)
		}
		f := strings.Fields(old)
		if len(f) != 1 {
			return "", fmt.Errorf("current value %q is not one integer", old)
		}
		cur, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			// Values beyond uint64 or negative ones (-1 = unlimited in some keys)
			// are treated as already high enough: never lower.
			if _, ierr := strconv.ParseInt(f[0], 10, 64); ierr == nil || errors.Is(err, strconv.ErrRange) {
				return "", nil
			}
			return "", fmt.Errorf("current value %q is not an integer", old)
		}
		if cur >= min {
			return "", nil
		}
		return s.Value, nil
	}
	return "", fmt.Errorf("unknown mode %d", s.Mode)
}

// Format renders results as aligned "key  old -> new  (note)" lines, as
// `lbd sysctl` prints them.
func Format(rs []Result) string {
	w := 0
	for _, r := range rs {
		w = max(w, len(r.Key))
	}
	var b strings.Builder
	for _, r := range rs {
		state := "unchanged"
		if r.Changed {
			state = "changed"
		}
		fmt.Fprintf(&b, "%-*s  %s -> %s  (%s)", w, r.Key, orDash(r.Old), orDash(r.New), state)
		if r.Warning != "" {
			b.WriteString("  warning: " + r.Warning)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Log logs each result at Info (Warn when it has a warning) as
// "sysctl key=... old=... new=... changed=...".
func Log(l *slog.Logger, rs []Result) {
	for _, r := range rs {
		args := []any{"key", r.Key, "old", r.Old, "new", r.New, "changed", r.Changed}
		if r.Warning != "" {
			l.Warn("sysctl", append(args, "warning", r.Warning)...)
			continue
		}
		l.Info("sysctl", args...)
	}
}
