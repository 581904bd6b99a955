// Package control is lbd's runtime API: JSON over HTTP on a unix socket
// (default /run/lbd/lbd.sock, mode 0600), versioned routes under /v1/, the
// shared request/response types, and the typed Client that lbctl and the
// tests use.
package control
