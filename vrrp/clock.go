package vrrp

import "time"

// Clock is the driver's time source. Nil in Deps means the real clock; tests
// may inject one or run the real clock inside testing/synctest.
type Clock interface {
	Now() time.Time
	// NewTimer returns a channel that receives once after d, and a stop
	// function.
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}
