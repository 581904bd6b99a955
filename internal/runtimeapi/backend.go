package runtimeapi

import "github.com/lbd-ha/lbd/internal/control"

// Backend is what the runtime API needs from the daemon. Changes go
// through the same calls as lbctl's API; who names the caller for the
// audit log.
type Backend interface {
	// Status is the daemon's state, as lbctl status and the stats page see it.
	Status() control.Status
	// Maxconn is the process-wide connection limit (global.maxconn).
	Maxconn() int
	// InitialWeight is a server's weight from the config; ok is false for an
	// unknown server.
	InitialWeight(backend, server string) (w int, ok bool)
	// SetServerAdmin sets a server's admin state: "ready", "drain" or "maint".
	SetServerAdmin(backend, server, state, who string) error
	// SetServerWeight sets a server's current weight (0..256).
	SetServerWeight(backend, server string, weight int, who string) error
	// SetHealthChecks pauses (on=false) or resumes a server's health checks.
	SetHealthChecks(backend, server string, on bool, who string) error
	// SetFrontendEnabled stops (on=false) or resumes accepting on a frontend.
	SetFrontendEnabled(frontend string, on bool, who string) error
}

// Level is a runtime API access level, as HAProxy's `level` bind option.
type Level int

// The levels, least privileged first.
const (
	LevelUser Level = iota
	LevelOperator
	LevelAdmin
)

// ParseLevel accepts user, operator and admin; "" is HAProxy's default,
// operator.
func ParseLevel(s string) (Level, bool) {
	switch s {
	case "user":
		return LevelUser, true
	case "", "operator":
		return LevelOperator, true
	case "admin":
		return LevelAdmin, true
	}
	return LevelOperator, false
}

func (l Level) String() string {
	switch l {
	case LevelUser:
		return "user"
	case LevelAdmin:
		return "admin"
	}
	return "operator"
}
