package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Sentinel errors; a *FileError wraps one of them (or an fs error), so
// callers can branch with errors.Is.
var (
	// ErrNoCertificate: the file holds no PEM CERTIFICATE block.
	ErrNoCertificate = errors.New("no certificate in file")
	// ErrNoKey: neither the file nor FILE.key holds a private key.
	ErrNoKey = errors.New("no private key")
	// ErrKeyMismatch: the private key is not the key of the first certificate.
	ErrKeyMismatch = errors.New("private key does not match the certificate")
	// ErrChainOrder: a certificate of the chain is not signed by the next one.
	ErrChainOrder = errors.New("chain in the wrong order")
	// ErrEncryptedKey: the private key is password-protected; lbd cannot ask
	// for a password at start or reload.
	ErrEncryptedKey = errors.New("private key is encrypted (password-protected)")
	// ErrBadPEM: a block could not be parsed (certificate or key).
	ErrBadPEM = errors.New("unparsable PEM block")
	// ErrUnsupportedKey: the key type is neither RSA, ECDSA nor Ed25519.
	ErrUnsupportedKey = errors.New("unsupported key type")
)

// maxFileSize bounds what one certificate or key file may hold; a chain of
// a few certificates is a few KiB.
const maxFileSize = 1 << 20

// FileError is a problem with one certificate or key file.
type FileError struct {
	File string // the file the problem is in
	Err  error  // a sentinel above, an fs error, or a wrapped detail
}

func (e *FileError) Error() string { return "certificate " + e.File + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *FileError) Unwrap() error { return e.Err }

// Warning is a problem that does not stop a certificate from being served,
// such as an expired certificate.
type Warning struct {
	File    string
	Message string
	// Empty marks a directory of Options.AllowEmpty that holds no
	// certificate yet (File is the directory).
	Empty bool
}

func (w Warning) String() string { return "certificate " + w.File + ": " + w.Message }

// entry is one loaded certificate with what the index and Info need.
type entry struct {
	file    string
	cert    tls.Certificate
	names   []string // lowercased DNS names used for SNI (SANs, or CN when none)
	keyType string   // "ECDSA P-256", "RSA 2048", "Ed25519"
	ecdsa   bool
	rsa     bool
	curve   tls.CurveID         // ECDSA only
	scheme  tls.SignatureScheme // ECDSA only: the TLS 1.3 scheme bound to the curve
	leaf    *x509.Certificate   // == cert.Leaf
}

// expandPaths turns crt arguments (files or directories) into the list of
// certificate files, in order. A directory contributes its regular files
// in lexical order, except hidden files and HAProxy's extra files (.key,
// .ocsp, .issuer, .sctl). A directory of allowEmpty may be empty or
// missing: it gives a Warning with Empty set instead of an error.
func expandPaths(paths, allowEmpty []string) ([]string, []Warning, error) {
	var files []string
	var warns []Warning
	for _, p := range paths {
		mayBeEmpty := containsPath(allowEmpty, p)
		st, err := os.Stat(p)
		if err != nil {
			if mayBeEmpty && errors.Is(err, fs.ErrNotExist) {
				warns = append(warns, Warning{File: p, Message: "directory does not exist yet: no certificate to serve", Empty: true})
				continue
			}
			return nil, warns, &FileError{File: p, Err: statErr(err)}
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		ents, err := os.ReadDir(p) // sorted by name
		if err != nil {
			return nil, warns, &FileError{File: p, Err: err}
		}
		n := 0
		for _, e := range ents {
			name := e.Name()
			if strings.HasPrefix(name, ".") || isExtraFile(name) {
				continue
			}
			full := filepath.Join(p, name)
			fst, err := os.Stat(full) // follows symlinks
			if err != nil || !fst.Mode().IsRegular() {
				continue
			}
			files = append(files, full)
			n++
		}
		if n == 0 {
			if mayBeEmpty {
				warns = append(warns, Warning{File: p, Message: "directory holds no certificate file yet", Empty: true})
				continue
			}
			return nil, warns, &FileError{File: p, Err: errors.New("directory holds no certificate file")}
		}
	}
	return files, warns, nil
}

// containsPath reports whether list holds p, comparing cleaned paths.
func containsPath(list []string, p string) bool {
	c := filepath.Clean(p)
	for _, x := range list {
		if filepath.Clean(x) == c {
			return true
		}
	}
	return false
}

func statErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file not found: %w", fs.ErrNotExist)
	}
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("permission denied: %w", fs.ErrPermission)
	}
	return err
}

func isExtraFile(name string) bool {
	for _, ext := range []string{".key", ".ocsp", ".issuer", ".sctl"} {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, statErr(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("file larger than %d bytes", maxFileSize)
	}
	return b, nil
}

// keyFileCandidates returns where HAProxy looks for the key of FILE when
// FILE has none: FILE.key, and for FILE ending in ".crt" also the same
// name with ".key" instead.
func keyFileCandidates(file string) []string {
	c := []string{file + ".key"}
	if base, ok := strings.CutSuffix(file, ".crt"); ok {
		c = append(c, base+".key")
	}
	return c
}

// loadFile loads one certificate file (and its FILE.key when the key is
// not in it) and validates it. now is used for the expiry warnings.
func loadFile(file string, now time.Time) (*entry, []Warning, error) {
	data, err := readBounded(file)
	if err != nil {
		return nil, nil, &FileError{File: file, Err: err}
	}
	var keyData []byte
	keyFile := file
	if !hasKeyBlock(data) {
		for _, kf := range keyFileCandidates(file) {
			kd, err := readBounded(kf)
			if err == nil {
				keyData, keyFile = kd, kf
				break
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, nil, &FileError{File: kf, Err: err}
			}
		}
		if keyData == nil {
			return nil, nil, &FileError{File: file, Err: fmt.Errorf("%w in the file and no %s next to it", ErrNoKey, filepath.Base(file)+".key")}
		}
	}
	return parseBundle(file, data, keyFile, keyData, now)
}

// hasKeyBlock reports whether data holds a PEM block that looks like a key.
func hasKeyBlock(data []byte) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return true
		}
	}
}

// parseBundle parses the certificates of file and the key (from keyData
// when not nil, else from data) and validates them. It never panics on
// hostile bytes.
func parseBundle(file string, data []byte, keyFile string, keyData []byte, now time.Time) (*entry, []Warning, error) {
	var ders [][]byte
	var key crypto.PrivateKey
	var keyErr error
	handleKey := func(kf string, b *pem.Block) {
		if keyErr != nil {
			return
		}
		if key != nil {
			keyErr = &FileError{File: kf, Err: errors.New("more than one private key")}
			return
		}
		k, err := parseKey(b)
		if err != nil {
			keyErr = &FileError{File: kf, Err: err}
			return
		}
		key = k
	}
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE":
			ders = append(ders, b.Bytes)
		case strings.HasSuffix(b.Type, "PRIVATE KEY") && keyData == nil:
			handleKey(file, b)
		}
		// Other blocks (DH PARAMETERS, X509 CRL, ...) are ignored, as
		// HAProxy ignores what it does not use from a crt file.
	}
	if len(ders) == 0 {
		return nil, nil, &FileError{File: file, Err: ErrNoCertificate}
	}
	if keyData != nil {
		rest = keyData
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			if strings.HasSuffix(b.Type, "PRIVATE KEY") {
				handleKey(keyFile, b)
			}
		}
	}
	if keyErr != nil {
		return nil, nil, keyErr
	}
	if key == nil {
		return nil, nil, &FileError{File: keyFile, Err: ErrNoKey}
	}

	chain := make([]*x509.Certificate, 0, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, &FileError{File: file, Err: fmt.Errorf("%w: certificate %d: %v", ErrBadPEM, i+1, err)}
		}
		chain = append(chain, c)
	}
	leaf := chain[0]

	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			msg := fmt.Sprintf("certificate %d (%q) is not signed by certificate %d (%q)",
				i+1, chain[i].Subject.String(), i+2, chain[i+1].Subject.String())
			if chain[i+1].CheckSignatureFrom(chain[i]) == nil {
				msg += "; it is the other way round: put the server certificate first, then each issuer"
			} else {
				msg += "; each certificate must be followed by its issuer"
			}
			return nil, nil, &FileError{File: file, Err: fmt.Errorf("%w: %s", ErrChainOrder, msg)}
		}
	}

	signer, ok := key.(crypto.Signer)
	if !ok || !samePublic(leaf.PublicKey, signer.Public()) {
		return nil, nil, &FileError{File: keyFile, Err: fmt.Errorf("%w (subject %q)", ErrKeyMismatch, leaf.Subject.String())}
	}

	e := &entry{file: file, leaf: leaf}
	e.cert = tls.Certificate{Certificate: ders, PrivateKey: key, Leaf: leaf}
	switch k := signer.Public().(type) {
	case *ecdsa.PublicKey:
		e.ecdsa = true
		switch k.Curve {
		case elliptic.P256():
			e.curve, e.scheme, e.keyType = tls.CurveP256, tls.ECDSAWithP256AndSHA256, "ECDSA P-256"
		case elliptic.P384():
			e.curve, e.scheme, e.keyType = tls.CurveP384, tls.ECDSAWithP384AndSHA384, "ECDSA P-384"
		case elliptic.P521():
			e.curve, e.scheme, e.keyType = tls.CurveP521, tls.ECDSAWithP521AndSHA512, "ECDSA P-521"
		default:
			return nil, nil, &FileError{File: keyFile, Err: fmt.Errorf("%w: ECDSA curve %s", ErrUnsupportedKey, k.Curve.Params().Name)}
		}
	case *rsa.PublicKey:
		e.rsa = true
		e.keyType = fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		e.keyType = "Ed25519"
	default:
		return nil, nil, &FileError{File: keyFile, Err: fmt.Errorf("%w %T", ErrUnsupportedKey, k)}
	}
	e.names = sniNames(leaf)
	if len(e.names) == 0 {
		return nil, nil, &FileError{File: file, Err: errors.New("certificate has no DNS name (no SAN DNS name and no CN)")}
	}

	var warns []Warning
	for i, c := range chain {
		what := "certificate"
		if i > 0 {
			what = fmt.Sprintf("chain certificate %d (%q)", i+1, c.Subject.String())
		}
		switch {
		case now.After(c.NotAfter):
			warns = append(warns, Warning{File: file, Message: fmt.Sprintf("%s expired on %s", what, c.NotAfter.UTC().Format(time.RFC3339))})
		case now.Before(c.NotBefore):
			warns = append(warns, Warning{File: file, Message: fmt.Sprintf("%s is not valid before %s", what, c.NotBefore.UTC().Format(time.RFC3339))})
		}
	}
	return e, warns, nil
}

func samePublic(a, b crypto.PublicKey) bool {
	p, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && p.Equal(b)
}

// parseKey parses a PEM private key block, refusing encrypted ones.
func parseKey(b *pem.Block) (crypto.PrivateKey, error) {
	// PKCS#8 encrypted, or legacy OpenSSL "Proc-Type: 4,ENCRYPTED".
	if b.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
		return nil, ErrEncryptedKey
	}
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: RSA key: %v", ErrBadPEM, err)
		}
		return k, nil
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: EC key: %v", ErrBadPEM, err)
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: PKCS#8 key: %v", ErrBadPEM, err)
		}
		switch k.(type) {
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("%w %T", ErrUnsupportedKey, k)
	}
	return nil, fmt.Errorf("%w: block type %q", ErrUnsupportedKey, b.Type)
}

// sniNames returns the names a certificate answers for: its SAN DNS names,
// or its CN when it has no SAN at all. Lowercased, trailing dot removed,
// duplicates dropped.
func sniNames(c *x509.Certificate) []string {
	src := c.DNSNames
	if len(c.DNSNames) == 0 && len(c.IPAddresses) == 0 && len(c.EmailAddresses) == 0 && len(c.URIs) == 0 && c.Subject.CommonName != "" {
		src = []string{c.Subject.CommonName}
	}
	out := make([]string, 0, len(src))
	for _, n := range src {
		n = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
		if n == "" || contains(out, n) {
			continue
		}
		out = append(out, n)
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// ParsePEM parses one crt file's bytes as Store does (certificates and
// key in data, or the key in keyData when keyData is not nil) and
// validates them. file names the source in errors. It is what the fuzz
// target exercises and what lbd check can call on bytes it already read.
func ParsePEM(file string, data, keyData []byte, now time.Time) (*tls.Certificate, []Warning, error) {
	if keyData == nil && !hasKeyBlock(data) {
		return nil, nil, &FileError{File: file, Err: ErrNoKey}
	}
	keyFile := file
	if keyData != nil {
		keyFile = file + ".key"
	}
	e, w, err := parseBundle(file, data, keyFile, keyData, now)
	if err != nil {
		return nil, w, err
	}
	return &e.cert, w, nil
}
