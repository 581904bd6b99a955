// Package cli holds the cobra command trees of lbd and lbctl. The mains in
// cmd/ only call LBD or LBCTL with the process arguments and streams, and
// exit with the code returned; everything here returns errors.
package cli
