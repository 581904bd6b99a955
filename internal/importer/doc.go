// Package importer turns an HAProxy configuration (haproxy.cfg) and,
// optionally, a keepalived configuration (keepalived.conf) into a commented
// lbd.yaml. It backs `lbctl import haproxy`.
//
// # Parsing
//
// haproxy.cfg is tokenised as HAProxy does: sections global, defaults,
// frontend, backend and listen; `#` comments; single and double quotes;
// backslash escapes (`Strictly\ Private`, `\r\n`, `\xHH`); the old
// `listen NAME ADDR:PORT` form; several defaults sections (each applies to
// the sections that follow it); `no option X`. keepalived.conf is read as
// keepalived does: brace blocks, `!` and `#` comments, quoted strings.
// Every size is bounded (file size, line length, words per line, block
// depth) and hostile input returns an error, never a panic.
//
// # Mapping
//
// Each directive becomes the lbd.yaml key with the same meaning (see
// docs/migration.md for the table). What lbd does differently is reported
// as a [Warning]: SeverityNote when lbd covers the need another way (daemon,
// pidfile, state MASTER, track_script chk_haproxy ...), SeverityWarning when
// the directive is not supported and was left out. Nothing is dropped
// silently. The same messages are written as comments next to the key in the
// generated YAML.
//
// # Exit codes
//
// [Result.ExitCode] is 0 when everything mapped (notes only), 2 when some
// directive was left out; unreadable or invalid input is an error (exit 1),
// and every error names file:line.
package importer
