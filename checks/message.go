package checks

import (
	"fmt"
	"strings"
)

// reasonPart renders ", reason: R[, code: N | , info: "I"], check duration: Dms".
func reasonPart(r Result) string {
	var b strings.Builder
	b.WriteString("reason: ")
	b.WriteString(r.Reason())
	if r.Status > 0 {
		fmt.Fprintf(&b, ", code: %d", r.Status)
	} else if r.Info != "" {
		fmt.Fprintf(&b, ", info: \"%s\"", info(r.Info))
	}
	fmt.Fprintf(&b, ", check duration: %dms", r.Duration.Milliseconds())
	return b.String()
}

// DownMessage is the line HAProxy logs when a check takes a server DOWN:
//
//	Server app_servers/web01 is DOWN, reason: Layer7 wrong status, code: 500, check duration: 3ms. 1 active and 0 backup servers left.
//
// active and backup count the backend's servers still usable after the change.
func DownMessage(backend, server string, r Result, active, backup int) string {
	return fmt.Sprintf("Server %s/%s is DOWN, %s. %d active and %d backup servers left.",
		backend, server, reasonPart(r), active, backup)
}

// UpMessage is the line logged when checks bring a server UP:
//
//	Server app_servers/web01 is UP, reason: Layer7 check passed, code: 200, check duration: 2ms. 2 active and 0 backup servers online.
func UpMessage(backend, server string, r Result, active, backup int) string {
	return fmt.Sprintf("Server %s/%s is UP, %s. %d active and %d backup servers online.",
		backend, server, reasonPart(r), active, backup)
}

// NoServerMessage is logged when a backend is left with no usable server.
func NoServerMessage(backend string) string {
	return fmt.Sprintf("backend %s has no server available!", backend)
}

// CheckMessage is logged when a check result flips without changing the
// server's state, e.g. the first failure of a fully UP server:
//
//	Health check for server app_servers/web01 failed, reason: Layer7 wrong status, code: 500, check duration: 1ms, status: 2/3 UP.
//
// status is health-rise+1 / fall while UP and health / rise while DOWN.
func CheckMessage(backend, server string, r Result, health, rise, fall int) string {
	verb, st := "failed", ""
	if r.OK() {
		verb = "succeeded"
	}
	if health >= rise {
		st = fmt.Sprintf("%d/%d UP", health-rise+1, fall)
	} else {
		st = fmt.Sprintf("%d/%d DOWN", health, rise)
	}
	return fmt.Sprintf("Health check for server %s/%s %s, %s, status: %s.", backend, server, verb, reasonPart(r), st)
}

// AdminMessage is logged when the admin state changes from -> to.
func AdminMessage(backend, server string, from, to Admin, up bool, active, backup int) string {
	name := backend + "/" + server
	switch {
	case to == Maint:
		return fmt.Sprintf("Server %s is going DOWN for maintenance. %d active and %d backup servers left.", name, active, backup)
	case to == Drain:
		return fmt.Sprintf("Server %s enters drain state. %d active and %d backup servers left.", name, active, backup)
	}
	left := "leaving drain"
	if from == Maint {
		left = "leaving maintenance"
	}
	if up {
		return fmt.Sprintf("Server %s is UP (%s). %d active and %d backup servers online.", name, left, active, backup)
	}
	return fmt.Sprintf("Server %s is DOWN (%s). %d active and %d backup servers left.", name, left, active, backup)
}
