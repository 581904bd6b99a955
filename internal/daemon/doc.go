// Package daemon is lbd's process: it loads the config, applies the sysctl
// table, starts the proxy engine, the health checks and the VRRP instances,
// serves the control socket, and reloads or stops them as one unit.
//
// The command line (internal/cli) owns signals and exit codes; the daemon
// returns errors and logs events through the *slog.Logger it is given.
package daemon
