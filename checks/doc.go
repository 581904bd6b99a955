// Package checks runs the health checks that take servers out of rotation
// and bring them back, with HAProxy's semantics.
//
// The package has three layers:
//
//   - Machine is the pure per-server state machine: the HAProxy health
//     counter (0..rise+fall-1), the interval to wait before the next check
//     (inter, fastinter, downinter) and the admin states (READY, DRAIN,
//     MAINT). It never reads a clock; the caller passes the time in.
//   - TCPCheck and HTTPCheck are the Checkers: they dial a server, talk to
//     it with HAProxy's timeouts and return a Result carrying an HAProxy
//     status code (L4OK, L4CON, L7STS, ...) and reason.
//   - Manager schedules checks for every server of a Config with bounded
//     concurrency, spreads them in time, keeps state across reloads (Apply)
//     and reports every UP/DOWN/admin change through Options.OnChange and
//     HAProxy-style log lines; Snapshot and Info return its ServerInfo.
//
// Config, ServerSpec and CheckSpec are trusted: lbd's config loader fills
// the defaults and validates them; the package imports nothing of lbd's
// internals.
//
// See docs/checks.md for the user-visible behaviour.
package checks
