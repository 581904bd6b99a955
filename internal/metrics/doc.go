// Package metrics exposes lbd's state as Prometheus metrics. A collector
// reads the daemon's control.Status snapshot at scrape time (no counters
// are duplicated here), so /metrics always agrees with `lbctl status` and
// the stats page. Names follow Prometheus conventions: lbd_ prefix, _total
// for counters, base units (seconds, bytes), one label per dimension.
package metrics
