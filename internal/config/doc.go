// Package config loads and validates lbd.yaml.
//
// Load is strict: unknown keys and wrong types are errors (viper's
// UnmarshalExact with weak typing off), durations need a unit ("10s", "1m",
// "500ms"), and every problem is reported at once with the file, line and key
// path, e.g.
//
//	/etc/lbd/lbd.yaml:14: frontends[0].timeouts.client: invalid duration "10x" (use a unit: 500ms, 10s, 1m)
//
// After decoding, Load folds the legacy HAProxy timeout aliases
// (contimeout, clitimeout, srvtimeout), applies the defaults section and the
// built-in defaults (see defaults.go and docs/config.md), expands each listen
// section into a frontend and a backend of the same name, and runs the
// semantic checks (dangling use_backend, duplicate names, ports, VIP
// families, ...). Consumers read effective values and never merge sections.
package config
