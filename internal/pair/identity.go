package pair

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// File names inside the pair directory (<state_dir>/pair).
const (
	keyFile  = "node.key"  // this node's private key, mode 0600
	certFile = "node.crt"  // this node's self-signed certificate
	peerFile = "peer.json" // the pinned peer: fingerprint and address
)

// TokenPrefix starts every join token.
const TokenPrefix = "lbd-pair-v1:"

// Identity is this node's key pair.
type Identity struct {
	Cert tls.Certificate
	// Fingerprint is the lowercase hex SHA-256 of the certificate (DER).
	Fingerprint string
}

// Fingerprint returns the lowercase hex SHA-256 of a DER certificate.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// Dir is the pair directory under lbd's state directory.
func Dir(stateDir string) string { return filepath.Join(stateDir, "pair") }

// LoadIdentity reads this node's identity from dir.
func LoadIdentity(dir string) (*Identity, error) {
	kp := filepath.Join(dir, keyFile)
	fi, err := os.Stat(kp)
	if err != nil {
		return nil, fmt.Errorf("reading pair identity: %w (run `lbctl pair init`)", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("pair key %s has mode %04o: it must be 0600", kp, fi.Mode().Perm())
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile), kp)
	if err != nil {
		return nil, fmt.Errorf("reading pair identity in %s: %w", dir, err)
	}
	if _, ok := cert.PrivateKey.(*ecdsa.PrivateKey); !ok {
		return nil, fmt.Errorf("pair key %s is not an ECDSA key", kp)
	}
	return &Identity{Cert: cert, Fingerprint: Fingerprint(cert.Certificate[0])}, nil
}

// LoadOrCreateIdentity reads this node's identity from dir, creating a new
// one (ECDSA P-256, self-signed) when there is none. created reports which.
//
// lbd and `lbctl pair init` may both call it at the same moment on a fresh
// node: an exclusive lock on dir/.lock makes one of them create the
// identity and the other load it (without it each could write its own key,
// and the peer could pin one the daemon does not use).
func LoadOrCreateIdentity(dir, node string) (id *Identity, created bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("creating pair directory: %w", err)
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dir, keyFile)); err == nil {
		id, err := LoadIdentity(dir)
		return id, false, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("reading pair identity: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("generating pair key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, false, fmt.Errorf("generating serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "lbd pair " + node},
		NotBefore:    now.Add(-time.Hour),
		// Pinning by fingerprint makes expiry meaningless; the key is
		// replaced by `lbctl pair init --new`.
		NotAfter:    now.AddDate(50, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, false, fmt.Errorf("creating pair certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, fmt.Errorf("encoding pair key: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, keyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return nil, false, err
	}
	if err := writeFileAtomic(filepath.Join(dir, certFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, false, err
	}
	id, err = LoadIdentity(dir)
	return id, true, err
}

// RemoveIdentity deletes this node's key and certificate (a new one is
// then created by LoadOrCreateIdentity); the pinned peer stays.
func RemoveIdentity(dir string) error {
	for _, f := range []string{keyFile, certFile} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing pair identity: %w", err)
		}
	}
	return nil
}

// Pin is the peer this node trusts.
type Pin struct {
	Fingerprint string    `json:"fingerprint"`
	Address     string    `json:"address"`
	PinnedAt    time.Time `json:"pinned_at"`
}

// LoadPin reads the pinned peer; a missing file gives nil, nil (unpaired).
func LoadPin(dir string) (*Pin, error) {
	f, err := os.Open(filepath.Join(dir, peerFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading pinned peer: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("reading pinned peer: %w", err)
	}
	var p Pin
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("reading pinned peer %s: %w", filepath.Join(dir, peerFile), err)
	}
	if err := checkFingerprint(p.Fingerprint); err != nil {
		return nil, fmt.Errorf("pinned peer %s: %w", filepath.Join(dir, peerFile), err)
	}
	return &p, nil
}

// SavePin pins the peer (replacing any earlier pin).
func SavePin(dir string, p Pin) error {
	if err := checkFingerprint(p.Fingerprint); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating pair directory: %w", err)
	}
	b, _ := json.MarshalIndent(p, "", "  ")
	return writeFileAtomic(filepath.Join(dir, peerFile), append(b, '\n'), 0o600)
}

// ChownTo gives the pair directory and its files to the owner of the state
// directory above it, so that an lbd running as its own user (global.user)
// can read what root's `lbctl pair` wrote. A no-op when not root.
func ChownTo(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(filepath.Dir(dir))
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	for _, p := range []string{dir, filepath.Join(dir, keyFile), filepath.Join(dir, certFile), filepath.Join(dir, peerFile)} {
		if err := os.Chown(p, int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("giving %s to uid %d: %w", p, st.Uid, err)
		}
	}
	return nil
}

func checkFingerprint(fp string) error {
	if len(fp) != 64 {
		return fmt.Errorf("fingerprint %q: want 64 hex digits (SHA-256)", fp)
	}
	if _, err := hex.DecodeString(fp); err != nil || strings.ToLower(fp) != fp {
		return fmt.Errorf("fingerprint %q: want 64 lowercase hex digits (SHA-256)", fp)
	}
	return nil
}

// NormalizeFingerprint accepts hex with or without colons, any case.
func NormalizeFingerprint(s string) (string, error) {
	fp := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), ":", ""))
	return fp, checkFingerprint(fp)
}

// Token is the one line `lbctl pair init` prints and `lbctl pair join`
// reads: lbd-pair-v1:<fingerprint>@<host:port>.
func Token(fingerprint, address string) string {
	return TokenPrefix + fingerprint + "@" + address
}

// ParseToken splits a join token into fingerprint and address.
func ParseToken(tok string) (fingerprint, address string, err error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(tok), TokenPrefix)
	if !ok {
		return "", "", fmt.Errorf("not a pair token (want %s<fingerprint>@<host:port>, as `lbctl pair init` prints)", TokenPrefix)
	}
	fp, addr, ok := strings.Cut(rest, "@")
	if !ok {
		return "", "", fmt.Errorf("pair token has no @<host:port>")
	}
	if fp, err = NormalizeFingerprint(fp); err != nil {
		return "", "", fmt.Errorf("pair token: %w", err)
	}
	if err := CheckAddress(addr); err != nil {
		return "", "", fmt.Errorf("pair token: %w", err)
	}
	return fp, addr, nil
}

// CheckAddress accepts host:port with a host that is not a wildcard.
func CheckAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: want host:port", addr)
	}
	if host == "" || host == "*" || host == "0.0.0.0" || host == "::" || port == "" || port == "0" {
		return fmt.Errorf("address %q: want the node's own reachable host:port, not a wildcard", addr)
	}
	return nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// lockDir takes an exclusive advisory lock on dir/.lock (flock(2)); the
// returned function releases it.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking pair directory: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking pair directory: %w", err)
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}
