package sysctl

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Fake is an in-memory State for tests. Keys not in the map do not exist
// (ErrNotFound); keys in ReadOnly refuse writes (ErrReadOnly). Safe for
// concurrent use.
type Fake struct {
	mu       sync.Mutex
	values   map[string]string
	readOnly map[string]bool
	writes   []string
}

var _ State = (*Fake)(nil)

// NewFake returns a Fake holding values (copied).
func NewFake(values map[string]string) *Fake {
	f := &Fake{values: map[string]string{}, readOnly: map[string]bool{}}
	for k, v := range values {
		f.values[k] = v
	}
	return f
}

// SetReadOnly makes key refuse writes.
func (f *Fake) SetReadOnly(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readOnly[key] = true
}

// Get implements State.
func (f *Fake) Get(key string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.values[key]
	if !ok {
		return "", fmt.Errorf("reading %s: %w", key, ErrNotFound)
	}
	return v, nil
}

// Set implements State; like /proc/sys it does not create keys.
func (f *Fake) Set(key, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.values[key]; !ok {
		return fmt.Errorf("writing %s: %w", key, ErrNotFound)
	}
	if f.readOnly[key] {
		return fmt.Errorf("writing %s: %w", key, ErrReadOnly)
	}
	f.values[key] = value
	f.writes = append(f.writes, key+" = "+value)
	return nil
}

// Writes returns the successful writes in order as "key = value".
func (f *Fake) Writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.writes...)
}

// String renders the state as sorted "key = value" lines, as sysctl -a does.
func (f *Fake) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	keys := make([]string, 0, len(f.values))
	for k := range f.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, f.values[k])
	}
	return b.String()
}
