// Package certs is lbd's TLS foundation: the certificates a TLS bind
// serves, and the crypto/tls configuration around them.
//
// It has five parts:
//
//   - Store loads certificates with HAProxy's "crt FILE|DIR" semantics (a
//     PEM file holding the chain and the key, or the key in FILE.key next to
//     it; a directory loads every certificate file in it in lexical order),
//     validates them (missing file, key that does not match, chain in the
//     wrong order, encrypted key, no certificate; expiry is a warning) and
//     picks one per handshake by SNI from the certificates' own names, with
//     a default certificate and an ECDSA/RSA choice by what the client
//     supports. GetCertificate reads an immutable index through an atomic
//     pointer: no lock, no allocation. Reload builds a new index and keeps
//     the old one serving when anything is wrong.
//   - ServerOptions builds a *tls.Config: TLS 1.2..1.3 by default (older
//     versions are refused), Mozilla's "intermediate" ECDHE cipher suites by
//     default, HAProxy-style ssl-default-bind-ciphers/options strings,
//     ALPN, client certificates (ca-file, verify none|optional|required)
//     and session tickets.
//   - TicketKeys rotates session ticket keys, keeping the previous ones for
//     decryption, and can be set from outside so that two nodes share them.
//   - Info and Classify give what lbctl, the stats page and /metrics show:
//     each certificate's names, issuer and expiry, and handshake failures
//     by reason.
//   - ClientOptions builds the client side, for TLS to servers and TLS
//     health checks: verify none|required against a ca-file or the system
//     roots (and the SNI's name), ALPN http/1.1, a client certificate;
//     ServerFailure names why a server handshake failed.
//
// The package imports nothing from internal/. See docs/tls.md.
package certs
