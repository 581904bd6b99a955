//go:build race

package proxy

// raceBuild: the race detector doubles stack guards and frame sizes, so
// TestIdleConnMemory does not bound stacks in race builds.
const raceBuild = true
