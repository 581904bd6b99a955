package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
)

// Reason is why a server-side handshake failed, for counters (stats page,
// CSV, lbctl status, /metrics).
type Reason string

// The handshake failure reasons.
const (
	ReasonNoSharedCipher  Reason = "no_shared_cipher" // no common suite, curve or signature scheme
	ReasonUnknownSNI      Reason = "unknown_sni"      // strict-sni and no certificate for the SNI
	ReasonBadClientCert   Reason = "bad_client_cert"  // missing, unverifiable or badly signed client certificate
	ReasonTimeout         Reason = "timeout"          // the handshake did not finish in time
	ReasonProtocolVersion Reason = "protocol_version" // the client offered only refused versions (TLS 1.1 ...)
	ReasonNoCertificate   Reason = "no_certificate"   // no certificate loaded yet (empty ACME directory)
	ReasonOther           Reason = "other"            // anything else (garbage, reset, client alert ...)
)

// Reasons lists every Reason, in a stable order for exposition.
var Reasons = []Reason{ReasonNoSharedCipher, ReasonUnknownSNI, ReasonBadClientCert, ReasonTimeout, ReasonProtocolVersion, ReasonNoCertificate, ReasonOther}

// Classify returns the reason of a failed tls.Conn.Handshake on the server
// side. nil gives "". crypto/tls reports most failures as plain errors, so
// part of this matches their text; the tests pin each case with a real
// handshake so a Go upgrade that changes a message shows up.
func Classify(err error) Reason {
	if err == nil {
		return ""
	}
	if errors.Is(err, ErrNoCertificateYet) || strings.Contains(err.Error(), ErrNoCertificateYet.Error()) {
		return ReasonNoCertificate
	}
	if errors.Is(err, ErrUnknownSNI) || strings.Contains(err.Error(), "tls: no certificates configured") {
		return ReasonUnknownSNI
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return ReasonTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ReasonTimeout
	}
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) {
		return ReasonBadClientCert
	}
	var uae x509.UnknownAuthorityError
	var cie x509.CertificateInvalidError
	if errors.As(err, &uae) || errors.As(err, &cie) {
		return ReasonBadClientCert
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "remote error: tls: protocol version"),
		strings.Contains(msg, "client offered only unsupported versions"),
		strings.Contains(msg, "unsupported SSLv2 handshake"),
		strings.Contains(msg, "inappropriate protocol fallback"):
		return ReasonProtocolVersion
	case strings.Contains(msg, "remote error"):
		// An alert from the client (it refused our certificate, ...).
		return ReasonOther
	case strings.Contains(msg, "no cipher suite supported by both"),
		strings.Contains(msg, "no ECDHE curve supported by both"),
		strings.Contains(msg, "no key exchanges supported by both"),
		strings.Contains(msg, "doesn't support any of the certificate's signature algorithms"),
		strings.Contains(msg, "doesn't support the certificate custom signature algorithms"),
		strings.Contains(msg, "client offered only incompatible point formats"):
		return ReasonNoSharedCipher
	case strings.Contains(msg, "client didn't provide a certificate"),
		strings.Contains(msg, "failed to parse client certificate"),
		strings.Contains(msg, "invalid signature by the client certificate"),
		strings.Contains(msg, "client certificate used with invalid signature algorithm"),
		strings.Contains(msg, "client sent certificate containing RSA key larger"),
		strings.Contains(msg, "client certificate contains an unsupported public key"):
		return ReasonBadClientCert
	}
	return ReasonOther
}
