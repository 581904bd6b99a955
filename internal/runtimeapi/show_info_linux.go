package runtimeapi

import "golang.org/x/sys/unix"

func openFilesLimit() (int, error) {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	return int(min(r.Cur, 1<<31-1)), nil
}
