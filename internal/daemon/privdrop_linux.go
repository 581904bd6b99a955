package daemon

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrCgoPrivDrop: per-thread capability calls on every thread need a
// CGO_ENABLED=0 build (the only kind lbd ships).
var ErrCgoPrivDrop = errors.New("dropping privileges needs a CGO_ENABLED=0 build of lbd")

// keptCaps are the capabilities lbd still needs after dropping root:
// VIPs (netlink), VRRP and ARP raw sockets, and ports below 1024 on reload.
var keptCaps = []uintptr{unix.CAP_NET_ADMIN, unix.CAP_NET_RAW, unix.CAP_NET_BIND_SERVICE}

// dropPrivileges enters chroot (if set) and switches to userName/groupName
// keeping only keptCaps, as HAProxy does after binding. It must run after
// every privileged open (listeners, raw sockets, control socket). When lbd
// does not run as root (systemd starts it as user lbd with ambient
// capabilities) it changes nothing and says so in the returned note.
func dropPrivileges(userName, groupName, chroot string) (note string, err error) {
	if userName == "" && groupName == "" && chroot == "" {
		return "", nil
	}
	if os.Geteuid() != 0 {
		return fmt.Sprintf("running as uid %d already: global.user/group/chroot apply only when started as root", os.Geteuid()), nil
	}
	uid, gid := 0, 0
	if userName != "" {
		u, err := user.Lookup(userName)
		if err != nil {
			return "", fmt.Errorf("global.user: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			return "", fmt.Errorf("global.group: %w", err)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	if chroot != "" {
		if err := syscall.Chroot(chroot); err != nil {
			return "", fmt.Errorf("chroot %s: %w", chroot, err)
		}
		if err := os.Chdir("/"); err != nil {
			return "", fmt.Errorf("chdir / in chroot: %w", err)
		}
	}
	if uid == 0 && gid == 0 {
		return "", nil
	}
	// Keep the permitted set across setuid, on every thread.
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 1, 0); e != 0 {
		if e == syscall.ENOTSUP {
			return "", ErrCgoPrivDrop
		}
		return "", fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", e)
	}
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return "", fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setresgid(gid, gid, gid); err != nil {
		return "", fmt.Errorf("setresgid %d: %w", gid, err)
	}
	if err := syscall.Setresuid(uid, uid, uid); err != nil {
		return "", fmt.Errorf("setresuid %d: %w", uid, err)
	}
	// setuid cleared the effective set: raise exactly keptCaps again (and
	// drop every other permitted capability) on every thread.
	var mask uint32
	for _, c := range keptCaps {
		mask |= 1 << c
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{{Effective: mask, Permitted: mask, Inheritable: mask}}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return "", fmt.Errorf("capset: %w", e)
	}
	// Ambient too, so a binary upgrade's new process (execve as this
	// user) keeps them.
	for _, c := range keptCaps {
		if _, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, c, 0, 0, 0); e != 0 {
			return "", fmt.Errorf("prctl(PR_CAP_AMBIENT_RAISE, %d): %w", c, e)
		}
	}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_SET_KEEPCAPS, 0, 0); e != 0 {
		return "", fmt.Errorf("prctl(PR_SET_KEEPCAPS, 0): %w", e)
	}
	return fmt.Sprintf("dropped to uid %d gid %d keeping CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE", uid, gid), nil
}
