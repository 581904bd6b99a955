package sysctl

import (
	"fmt"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// NofileKey is the Key of the RLIMIT_NOFILE result.
const NofileKey = "process.RLIMIT_NOFILE"

// Rlimit reads and sets the process's RLIMIT_NOFILE.
type Rlimit interface {
	Nofile() (cur, max uint64, err error)
	SetNofile(cur, max uint64) error
}

// ProcessRlimit is the Rlimit of the running process.
type ProcessRlimit struct{}

var _ Rlimit = ProcessRlimit{}

// Nofile implements Rlimit.
func (ProcessRlimit) Nofile() (uint64, uint64, error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, fmt.Errorf("getrlimit RLIMIT_NOFILE: %w", err)
	}
	return r.Cur, r.Max, nil
}

// SetNofile implements Rlimit.
func (ProcessRlimit) SetNofile(cur, max uint64) error {
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: cur, Max: max}); err != nil {
		return fmt.Errorf("setrlimit RLIMIT_NOFILE %d/%d: %w", cur, max, err)
	}
	return nil
}

// FakeRlimit is an in-memory Rlimit. With Privileged false, raising the
// hard limit fails as it does without CAP_SYS_RESOURCE.
type FakeRlimit struct {
	mu         sync.Mutex
	Cur, Max   uint64
	Privileged bool
}

// Nofile implements Rlimit.
func (f *FakeRlimit) Nofile() (uint64, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Cur, f.Max, nil
}

// SetNofile implements Rlimit.
func (f *FakeRlimit) SetNofile(cur, max uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cur > max || (max > f.Max && !f.Privileged) {
		return fmt.Errorf("setrlimit RLIMIT_NOFILE %d/%d: %w", cur, max, unix.EPERM)
	}
	f.Cur, f.Max = cur, max
	return nil
}

// RaiseNofile raises the soft RLIMIT_NOFILE (and the hard one if needed) to
// want; it never lowers either. If the hard limit cannot be raised the soft
// limit goes as high as the hard one allows and the result has a warning.
// Old and New are soft limits.
func RaiseNofile(want uint64, rl Rlimit) Result {
	r := Result{Key: NofileKey}
	cur, hard, err := rl.Nofile()
	if err != nil {
		r.Warning = fmt.Sprintf("%s: %v", NofileKey, err)
		return r
	}
	r.Old = strconv.FormatUint(cur, 10)
	r.New = r.Old
	if cur >= want {
		return r
	}
	newCur, newHard := want, max(hard, want)
	err = rl.SetNofile(newCur, newHard)
	if err != nil && hard > cur {
		// No CAP_SYS_RESOURCE (or above fs.nr_open): settle for the hard limit.
		if err2 := rl.SetNofile(hard, hard); err2 == nil {
			r.New = strconv.FormatUint(hard, 10)
			r.Changed = true
			r.Warning = fmt.Sprintf("%s: wanted %d for maxconn, raised only to the hard limit %d: %v", NofileKey, want, hard, err)
			return r
		}
	}
	if err != nil {
		r.Warning = fmt.Sprintf("%s: wanted %d for maxconn, left at %d: %v", NofileKey, want, cur, err)
		return r
	}
	r.New = strconv.FormatUint(newCur, 10)
	r.Changed = true
	return r
}
