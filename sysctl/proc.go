package sysctl

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Proc is the State backed by files under Root (normally /proc/sys).
type Proc struct {
	// Root is the directory that holds the sysctl tree; "" means /proc/sys.
	Root string
}

var _ State = Proc{}

// NewState returns the State for the real /proc/sys of the calling
// thread's network namespace (net.*) and of the host (everything else).
func NewState() State { return Proc{Root: "/proc/sys"} }

// maxValue bounds what Get reads from one key.
const maxValue = 64 << 10

// Path maps a dotted key to its file: dots separate levels and a "/" in the
// key stands for a dot in a name (net.ipv4.conf.eth0/100.forwarding), as
// sysctl(8) does. Keys with empty, "." or ".." levels are rejected.
func (p Proc) Path(key string) (string, error) {
	root := p.Root
	if root == "" {
		root = "/proc/sys"
	}
	if key == "" || len(key) > 512 {
		return "", fmt.Errorf("sysctl key %q: empty or too long", key)
	}
	parts := strings.Split(key, ".")
	for i, part := range parts {
		part = strings.ReplaceAll(part, "/", ".")
		if part == "" || part == "." || part == ".." || strings.ContainsRune(part, 0) {
			return "", fmt.Errorf("sysctl key %q: bad level %q", key, part)
		}
		parts[i] = part
	}
	return filepath.Join(append([]string{root}, parts...)...), nil
}

// Get returns the key's value without the trailing newline.
func (p Proc) Get(key string) (string, error) {
	path, err := p.Path(key)
	if err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", classify("reading", key, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxValue))
	if err != nil {
		return "", classify("reading", key, err)
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// Set writes value to an existing key; it never creates files.
func (p Proc) Set(key, value string) error {
	path, err := p.Path(key)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return classify("writing", key, err)
	}
	_, werr := f.Write([]byte(value + "\n"))
	cerr := f.Close()
	if werr != nil {
		return classify("writing", key, werr)
	}
	if cerr != nil {
		return classify("writing", key, cerr)
	}
	return nil
}

// classify wraps err with ErrNotFound or ErrReadOnly where it applies.
func classify(op, key string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s: %w: %w", op, key, ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%s %s: %w: %w", op, key, ErrReadOnly, err)
	}
	return fmt.Errorf("%s %s: %w", op, key, err)
}
