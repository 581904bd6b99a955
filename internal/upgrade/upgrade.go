package upgrade

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cloudflare/tableflip"
	"golang.org/x/sys/unix"
)

// linkName is the name of the socketpair end tableflip passes to the child.
const linkName = "lbd-upgrade"

// Limits of the link protocol.
const (
	maxMessage     = 64 << 10 // bytes of JSON in one message
	fdsPerMessage  = 200      // below the kernel's SCM_MAX_FD (253)
	maxListeners   = 10000
	helloTimeout   = 5 * time.Second
	defaultTimeout = 30 * time.Second
)

// ErrNoUpgrader is returned by a daemon that was not started with one.
var ErrNoUpgrader = errors.New("binary upgrade is not available in this process")

// Upgrader is one process's side of binary upgrades: the child of the last
// one (HasParent) and the parent of the next.
type Upgrader struct {
	mu        sync.Mutex // inherited, claimed
	tf        *tableflip.Upgrader
	link      *net.UnixConn   // to the parent; nil on a fresh start
	inherited map[string]int  // unclaimed listener fds from the parent
	claimed   map[string]bool // keys taken with Listener
	// parentExited: WaitParent saw the parent exit.
	parentExited atomic.Bool
}

// Options tune an Upgrader.
type Options struct {
	// Timeout bounds how long the new process may take to become ready
	// before it is killed and the upgrade fails (default 30 s).
	Timeout time.Duration
}

// New sets up binary upgrades for this process. When it was started by an
// upgrade, it receives the parent's listeners (claim them with Listener,
// then call Ready). Only one Upgrader can exist in a process.
func New(opts Options) (*Upgrader, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	tf, err := tableflip.New(tableflip.Options{UpgradeTimeout: opts.Timeout})
	if err != nil {
		return nil, fmt.Errorf("binary upgrade setup: %w", err)
	}
	u := &Upgrader{tf: tf, inherited: map[string]int{}, claimed: map[string]bool{}}
	if !tf.HasParent() {
		return u, nil
	}
	f, err := tf.File(linkName)
	if err != nil || f == nil {
		tf.Stop()
		return nil, fmt.Errorf("binary upgrade: no link from the previous process (%v)", err)
	}
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		tf.Stop()
		return nil, fmt.Errorf("binary upgrade link: %w", err)
	}
	u.link = c.(*net.UnixConn)
	u.link.SetReadDeadline(time.Now().Add(helloTimeout))
	u.inherited, err = receiveListeners(u.link)
	u.link.SetReadDeadline(time.Time{})
	if err != nil {
		u.link.Close()
		tf.Stop()
		return nil, fmt.Errorf("binary upgrade: receiving listeners: %w", err)
	}
	return u, nil
}

// HasParent reports whether this process was started by a binary upgrade.
func (u *Upgrader) HasParent() bool { return u.link != nil }

// WaitParent waits until the process that started this one has exited (at
// once on a fresh start or when it has). No new upgrade can start before:
// the previous process may still be finishing its connections (its soft
// stop). It returns ctx's error if ctx ends first.
func (u *Upgrader) WaitParent(ctx context.Context) error {
	u.tf.WaitForParent(ctx) // the parent's own exit status does not matter here
	if err := ctx.Err(); err != nil {
		return err
	}
	u.parentExited.Store(true)
	return nil
}

// Listener returns the parent's listening socket for key, or nil, nil when
// the parent had none (then the caller binds a new one). A key is handed
// out once.
func (u *Upgrader) Listener(key string) (net.Listener, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	fd, ok := u.inherited[key]
	if !ok {
		return nil, nil
	}
	delete(u.inherited, key)
	f := os.NewFile(uintptr(fd), key)
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("inherited listener %s: %w", key, err)
	}
	u.claimed[key] = true
	return ln, nil
}

// Claimed lists the inherited keys taken with Listener.
func (u *Upgrader) Claimed() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	keys := make([]string, 0, len(u.claimed))
	for k := range u.claimed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Ready tells the parent this process serves: inherited listeners nobody
// claimed are closed, the PID goes to the parent, and the parent's
// Upgrade returns. A fresh process only gets ready for later upgrades.
func (u *Upgrader) Ready() error {
	u.mu.Lock()
	for key, fd := range u.inherited {
		unix.Close(fd)
		delete(u.inherited, key)
	}
	u.mu.Unlock()
	if u.link != nil {
		b, _ := json.Marshal(hello{PID: os.Getpid()})
		if _, err := u.link.Write(b); err != nil {
			return fmt.Errorf("binary upgrade: telling the previous process: %w", err)
		}
	}
	if u.tf == nil {
		return nil
	}
	if err := u.tf.Ready(); err != nil {
		return fmt.Errorf("binary upgrade: %w", err)
	}
	return nil
}

// ParentState waits (up to timeout) for the state the parent sends once it
// has stopped what cannot run twice (VRRP), and decodes it into v. Call it
// after Ready; it closes the link.
func (u *Upgrader) ParentState(timeout time.Duration, v any) error {
	if u.link == nil {
		return errors.New("binary upgrade: no previous process")
	}
	defer u.link.Close()
	u.link.SetReadDeadline(time.Now().Add(timeout))
	b := make([]byte, maxMessage)
	n, err := u.link.Read(b)
	if err != nil {
		return fmt.Errorf("binary upgrade: waiting for the previous process's state: %w", err)
	}
	if err := json.Unmarshal(b[:n], v); err != nil {
		return fmt.Errorf("binary upgrade: previous process's state: %w", err)
	}
	return nil
}

// Exit is closed when a new process has taken over (this one should stop).
func (u *Upgrader) Exit() <-chan struct{} { return u.tf.Exit() }

// Stop refuses further upgrades (the process is shutting down).
func (u *Upgrader) Stop() { u.tf.Stop() }

// Child is a new process that became ready.
type Child struct {
	PID  int
	link *net.UnixConn
}

// Handover sends the child this process's last state (see ParentState)
// and closes the link.
func (c *Child) Handover(v any) error {
	defer c.link.Close()
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("binary upgrade: encoding state: %w", err)
	}
	if len(b) > maxMessage {
		return fmt.Errorf("binary upgrade: state of %d bytes is over %d", len(b), maxMessage)
	}
	if _, err := c.link.Write(b); err != nil {
		return fmt.Errorf("binary upgrade: sending state: %w", err)
	}
	return nil
}

// Close drops the link without a state (the child starts fresh).
func (c *Child) Close() { c.link.Close() }

// Upgrade starts the current executable (os.Args) as a new process, hands
// it listeners, and returns once it is ready. On error this process keeps
// serving as before.
func (u *Upgrader) Upgrade(listeners map[string]syscall.Conn) (*Child, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("binary upgrade: socketpair: %w", err)
	}
	mine, err := fileConn(fds[0], "lbd-upgrade-parent")
	if err != nil {
		unix.Close(fds[1])
		return nil, err
	}
	theirs := os.NewFile(uintptr(fds[1]), linkName)
	if err := sendListeners(mine, listeners); err != nil {
		mine.Close()
		theirs.Close()
		return nil, fmt.Errorf("binary upgrade: sending listeners: %w", err)
	}
	err = u.tf.AddFile(linkName, theirs) // tableflip keeps a dup for the child
	theirs.Close()
	if err != nil {
		mine.Close()
		return nil, fmt.Errorf("binary upgrade: %w", err)
	}
	err = u.tf.Upgrade()
	for i := 0; err != nil && i < 100 && u.parentExited.Load() && strings.Contains(err.Error(), "parent hasn't exited"); i++ {
		// tableflip learns of the parent's exit a moment after
		// WaitParent does.
		time.Sleep(5 * time.Millisecond)
		err = u.tf.Upgrade()
	}
	if err != nil {
		mine.Close()
		return nil, fmt.Errorf("binary upgrade: new process: %w", err)
	}
	mine.SetReadDeadline(time.Now().Add(helloTimeout))
	b := make([]byte, 1024)
	n, err := mine.Read(b)
	mine.SetReadDeadline(time.Time{})
	var h hello
	if err == nil {
		err = json.Unmarshal(b[:n], &h)
	}
	if err != nil || h.PID <= 0 {
		mine.Close()
		return nil, fmt.Errorf("binary upgrade: the new process is ready but sent no PID (%v)", err)
	}
	return &Child{PID: h.PID, link: mine}, nil
}

type hello struct {
	PID int `json:"pid"`
}

// batch is one listener message; its fds ride in SCM_RIGHTS in Keys order.
type batch struct {
	Keys []string `json:"keys"`
	More bool     `json:"more"`
}

func fileConn(fd int, name string) (*net.UnixConn, error) {
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("binary upgrade link: %w", err)
	}
	return c.(*net.UnixConn), nil
}

// sendListeners writes the listeners in batches of fdsPerMessage.
func sendListeners(c *net.UnixConn, listeners map[string]syscall.Conn) error {
	keys := make([]string, 0, len(listeners))
	for k := range listeners {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for first := true; first || len(keys) > 0; first = false {
		n := min(len(keys), fdsPerMessage)
		b := batch{Keys: keys[:n], More: len(keys) > n}
		fds := make([]int, 0, n)
		var derr error
		for _, k := range b.Keys {
			fd, err := dupFD(listeners[k])
			if err != nil {
				derr = fmt.Errorf("%s: %w", k, err)
				break
			}
			fds = append(fds, fd)
		}
		if derr == nil {
			derr = writeBatch(c, b, fds)
		}
		for _, fd := range fds {
			unix.Close(fd)
		}
		if derr != nil {
			return derr
		}
		keys = keys[n:]
	}
	return nil
}

func writeBatch(c *net.UnixConn, b batch, fds []int) error {
	msg, err := json.Marshal(b)
	if err != nil {
		return err
	}
	if len(msg) > maxMessage {
		return fmt.Errorf("listener names of %d bytes are over %d", len(msg), maxMessage)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	_, _, err = c.WriteMsgUnix(msg, oob, nil)
	return err
}

func dupFD(sc syscall.Conn) (int, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	return fd, derr
}

// receiveListeners reads batches until one says no more.
func receiveListeners(c *net.UnixConn) (map[string]int, error) {
	got := map[string]int{}
	fail := func(err error) (map[string]int, error) {
		for _, fd := range got {
			unix.Close(fd)
		}
		return nil, err
	}
	buf := make([]byte, maxMessage)
	oob := make([]byte, unix.CmsgSpace(fdsPerMessage*4))
	for {
		n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			return fail(err)
		}
		var fds []int
		if oobn > 0 {
			cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				return fail(fmt.Errorf("control message: %w", err))
			}
			for _, cm := range cmsgs {
				r, err := unix.ParseUnixRights(&cm)
				if err != nil {
					return fail(fmt.Errorf("control message: %w", err))
				}
				fds = append(fds, r...)
			}
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
		}
		var b batch
		err = json.Unmarshal(buf[:n], &b)
		switch {
		case flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0:
			err = errors.New("message truncated")
		case err == nil && len(b.Keys) != len(fds):
			err = fmt.Errorf("%d listener names for %d sockets", len(b.Keys), len(fds))
		case err == nil && len(got)+len(fds) > maxListeners:
			err = fmt.Errorf("more than %d listeners", maxListeners)
		}
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return fail(err)
		}
		for i, k := range b.Keys {
			if old, dup := got[k]; dup {
				unix.Close(old)
			}
			got[k] = fds[i]
		}
		if !b.More {
			return got, nil
		}
	}
}
