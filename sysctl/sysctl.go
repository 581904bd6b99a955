package sysctl

import (
	"errors"
	"fmt"
	"slices"
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
	case OneOf:
		if old == s.Value || slices.Contains(s.Accept, old) {
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
