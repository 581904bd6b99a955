// Package acme obtains and renews certificates from an ACME CA once for a
// pair of lbd nodes, with certmagic as the ACME client.
//
// Store is certmagic's Storage on a directory (the account, the
// certificates, the challenge tokens). Every write is sent to the peer
// through a Replicator before Store returns, so the peer holds a challenge
// token before the CA is told to validate, and the certificate before the
// order's lock is released. Lock is a lease (owner node, expiry) agreed
// with the peer: exactly one node orders or renews a certificate at a
// time. When the peer cannot be asked, only the VRRP master (IsMaster)
// takes a lock; Sync re-sends what the peer missed when the link returns.
//
// Each certificate certmagic stores is also written as one PEM file (chain
// and key, mode 0600) to Options.CertDir, which a TLS bind lists in its crt;
// OnCertificate then asks lbd to reload its certificates.
//
// The package imports nothing from internal/. See docs/tls.md.
package acme
