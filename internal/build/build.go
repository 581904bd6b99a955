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

// String returns a one-line version banner.
func String(prog string) string {
	s := fmt.Sprintf("%s %s (%s, %s/%s)", prog, Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if Commit != "" {
		s = fmt.Sprintf("%s %s commit %s (%s, %s/%s)", prog, Version, Commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	return s
}
