// Package build reports the version lbd and lbctl were built from. The
// Makefile stamps Version from `git describe` through -ldflags -X.
package build

import (
	"fmt"
	"runtime"
)

// Version is set at link time: -X github.com/lbd-ha/lbd/internal/build.Version=...
var Version = "devel"

// Commit is the git commit, set at link time.
var Commit = ""

// Netpoll is "fifo" when the Makefile linked the runtime overlay of
// scripts/netpoll-fifo.sh (goroutines woken by one network poll run in the
// kernel's event order), empty for the stock runtime.
var Netpoll = ""

// String returns a one-line version banner.
func String(prog string) string {
	goVersion := runtime.Version()
	if Netpoll != "" {
		goVersion += ", netpoll " + Netpoll
	}
	s := fmt.Sprintf("%s %s (%s, %s/%s)", prog, Version, goVersion, runtime.GOOS, runtime.GOARCH)
	if Commit != "" {
		s = fmt.Sprintf("%s %s commit %s (%s, %s/%s)", prog, Version, Commit, goVersion, runtime.GOOS, runtime.GOARCH)
	}
	return s
}
