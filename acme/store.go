package acme

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
)

// maxValue bounds one stored value (certmagic stores PEM and small JSON;
// base64 in JSON, it must fit the pair link's 1 MiB message).
const maxValue = 512 << 10

// KeyState is one key as Sync compares it.
type KeyState struct {
	Modified time.Time `json:"modified"`
	SHA256   string    `json:"sha256"`
}

// LeaseRequest asks the peer to record (Op "acquire": also a refresh by
// the same owner) or forget (Op "release") a lease.
type LeaseRequest struct {
	Name  string        `json:"name"`
	Owner string        `json:"owner"`
	TTL   time.Duration `json:"ttl"`
	Op    string        `json:"op"`
}

// LeaseAnswer is the peer's verdict; when refused, Holder holds the lease
// for Remaining more.
type LeaseAnswer struct {
	Granted   bool          `json:"granted"`
	Holder    string        `json:"holder,omitempty"`
	Remaining time.Duration `json:"remaining,omitempty"`
}

// Replicator carries a Store's writes and lease requests to the peer's
// Store (the pair link in lbd; a fake in tests). An error means the peer
// was not reached.
type Replicator interface {
	Put(ctx context.Context, key string, value []byte, modified time.Time, del bool) error
	Lease(ctx context.Context, req LeaseRequest) (LeaseAnswer, error)
	Manifest(ctx context.Context) (map[string]KeyState, error)
}

// StoreOptions configure a Store.
type StoreOptions struct {
	// Dir holds the keys (created 0700).
	Dir string
	// CertDir receives NAME.pem for every certificate (created 0700).
	CertDir string
	// Node names this node in leases; the two nodes must differ.
	Node string
	// LockTTL is a lease's length; the holder refreshes it every third.
	LockTTL time.Duration
	// Peer replicates; nil: a single node (local locks only).
	Peer Replicator
	// IsMaster tells whether this node is VRRP master: when the peer
	// cannot be asked, only the master takes a lock. Nil: never.
	IsMaster func() bool
	// OnCertificate is called after NAME.pem was written or replaced.
	OnCertificate func(name string)
	// Owner is called on every file and directory written (chown to lbd's
	// user); nil: none.
	Owner  func(path string)
	Logger *slog.Logger
	Now    func() time.Time
}

type lease struct {
	owner   string
	expires time.Time
	pending bool // asked the peer, no answer yet
	stop    chan struct{}
}

// Store is certmagic's Storage, replicated to the peer, with pair-wide
// leases for its locks.
type Store struct {
	opts StoreOptions
	log  *slog.Logger

	mu     sync.Mutex // leases, tokens, files
	leases map[string]*lease
	tokens map[string]challenge // token -> challenge, from challenge_tokens keys
	dirty  bool                 // a write did not reach the peer
}

type challenge struct {
	host, keyAuth string
}

// NewStore creates the directories.
func NewStore(opts StoreOptions) (*Store, error) {
	if opts.LockTTL <= 0 {
		opts.LockTTL = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Node == "" {
		return nil, errors.New("acme store: no node name")
	}
	for _, d := range []string{opts.Dir, opts.CertDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("acme store: %w", err)
		}
		os.Chmod(d, 0o700)
		if opts.Owner != nil {
			opts.Owner(d)
		}
	}
	s := &Store{opts: opts, log: opts.Logger.With("component", "acme"), leases: map[string]*lease{}, tokens: map[string]challenge{}}
	s.loadTokens()
	return s, nil
}

var _ certmagic.Storage = (*Store)(nil)

// file maps a key to its path; keys are certmagic's, slash separated.
func (s *Store) file(key string) (string, error) {
	k := path.Clean("/" + key)[1:]
	if k == "" || k != key || strings.Contains(key, "\\") || strings.HasPrefix(k, ".") {
		return "", fmt.Errorf("acme store: invalid key %q", key)
	}
	return filepath.Join(s.opts.Dir, filepath.FromSlash(k)), nil
}

// Store writes a key and sends it to the peer.
func (s *Store) Store(ctx context.Context, key string, value []byte) error {
	now := s.opts.Now()
	if err := s.write(key, value, now); err != nil {
		return err
	}
	s.replicate(ctx, key, value, now, false)
	return nil
}

func (s *Store) replicate(ctx context.Context, key string, value []byte, mod time.Time, del bool) {
	if s.opts.Peer == nil {
		return
	}
	if err := s.opts.Peer.Put(ctx, key, value, mod, del); err != nil {
		s.mu.Lock()
		s.dirty = true
		s.mu.Unlock()
		s.log.Warn("acme: the peer did not get a key; sent again when the link returns", "key", key, "error", err)
	}
}

func (s *Store) write(key string, value []byte, mod time.Time) error {
	if len(value) > maxValue {
		return fmt.Errorf("acme store: %s: value larger than %d bytes", key, maxValue)
	}
	p, err := s.file(key)
	if err != nil {
		return err
	}
	if err := s.mkdirs(filepath.Dir(p)); err != nil {
		return err
	}
	if err := writeAtomic(p, value, s.opts.Owner); err != nil {
		return fmt.Errorf("acme store: %w", err)
	}
	os.Chtimes(p, mod, mod)
	s.written(key)
	return nil
}

func (s *Store) mkdirs(dir string) error {
	rel, err := filepath.Rel(s.opts.Dir, dir)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("acme store: %s is outside %s", dir, s.opts.Dir)
	}
	cur := s.opts.Dir
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if part == "." {
			continue
		}
		cur = filepath.Join(cur, part)
		if err := os.Mkdir(cur, 0o700); err == nil {
			if s.opts.Owner != nil {
				s.opts.Owner(cur)
			}
		} else if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("acme store: %w", err)
		}
	}
	return nil
}

func writeAtomic(p string, data []byte, owner func(string)) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o600)
	}
	if err == nil && owner != nil {
		owner(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// Load reads a key.
func (s *Store) Load(_ context.Context, key string) ([]byte, error) {
	p, err := s.file(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fs.ErrNotExist
	}
	return b, err
}

// Delete removes a key (or a directory of keys) here and on the peer.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.remove(key); err != nil {
		return err
	}
	s.replicate(ctx, key, nil, s.opts.Now(), true)
	return nil
}

func (s *Store) remove(key string) error {
	p, err := s.file(key)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err != nil {
		return fs.ErrNotExist
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("acme store: %w", err)
	}
	if isChallengeKey(key) {
		host := hostOfChallengeKey(key)
		s.mu.Lock()
		for tok, c := range s.tokens {
			if c.host == host {
				delete(s.tokens, tok)
			}
		}
		s.mu.Unlock()
	}
	return nil
}

// Exists tells whether a key exists.
func (s *Store) Exists(_ context.Context, key string) bool {
	p, err := s.file(key)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// List lists the keys under prefix.
func (s *Store) List(_ context.Context, prefix string, recursive bool) ([]string, error) {
	p, err := s.file(prefix)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(p); err != nil {
		return nil, fs.ErrNotExist
	}
	var keys []string
	err = filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if fp == p || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, _ := filepath.Rel(s.opts.Dir, fp)
		keys = append(keys, filepath.ToSlash(rel))
		if d.IsDir() && !recursive {
			return fs.SkipDir
		}
		return nil
	})
	return keys, err
}

// Stat describes a key.
func (s *Store) Stat(_ context.Context, key string) (certmagic.KeyInfo, error) {
	p, err := s.file(key)
	if err != nil {
		return certmagic.KeyInfo{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return certmagic.KeyInfo{}, fs.ErrNotExist
	}
	return certmagic.KeyInfo{Key: key, Modified: fi.ModTime(), Size: fi.Size(), IsTerminal: !fi.IsDir()}, nil
}

// ApplyPut is a write from the peer: stored without sending it back.
func (s *Store) ApplyPut(key string, value []byte, modified time.Time, del bool) error {
	if del {
		if err := s.remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return s.write(key, value, modified)
}

// Manifest lists every key (challenge tokens aside) with its time and hash.
func (s *Store) Manifest() (map[string]KeyState, error) {
	out := map[string]KeyState{}
	err := filepath.WalkDir(s.opts.Dir, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, _ := filepath.Rel(s.opts.Dir, fp)
		key := filepath.ToSlash(rel)
		if isChallengeKey(key) {
			return nil
		}
		b, err := os.ReadFile(fp)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[key] = KeyState{Modified: fi.ModTime(), SHA256: hex.EncodeToString(sum[:])}
		return nil
	})
	return out, err
}

// Sync sends the peer every key it lacks or holds older (the link came
// back). Both nodes run it: the newer copy of a key wins.
func (s *Store) Sync(ctx context.Context) (int, error) {
	if s.opts.Peer == nil {
		return 0, nil
	}
	theirs, err := s.opts.Peer.Manifest(ctx)
	if err != nil {
		return 0, fmt.Errorf("acme sync: peer manifest: %w", err)
	}
	mine, err := s.Manifest()
	if err != nil {
		return 0, fmt.Errorf("acme sync: %w", err)
	}
	keys := make([]string, 0, len(mine))
	for k := range mine {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	n := 0
	for _, k := range keys {
		m, t := mine[k], theirs[k]
		if t.SHA256 == m.SHA256 || (t.SHA256 != "" && !m.Modified.After(t.Modified)) {
			continue
		}
		v, err := s.Load(ctx, k)
		if err != nil {
			continue
		}
		if err := s.opts.Peer.Put(ctx, k, v, m.Modified, false); err != nil {
			return n, fmt.Errorf("acme sync: %s: %w", k, err)
		}
		n++
	}
	s.mu.Lock()
	s.dirty = false
	s.mu.Unlock()
	if n > 0 {
		s.log.Info("acme: sent the peer what it missed", "keys", n)
	}
	return n, nil
}

// Dirty tells whether a write has not reached the peer since the last Sync.
func (s *Store) Dirty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dirty
}

// written reacts to a stored key: a challenge token becomes answerable, a
// certificate and its key become NAME.pem.
func (s *Store) written(key string) {
	if isChallengeKey(key) {
		s.loadToken(key)
		return
	}
	if strings.HasPrefix(key, "certificates/") && (strings.HasSuffix(key, ".crt") || strings.HasSuffix(key, ".key")) {
		s.export(strings.TrimSuffix(strings.TrimSuffix(key, ".crt"), ".key"))
	}
}

// export writes CertDir/NAME.pem (chain then key) from base.crt and
// base.key when they are a pair and the file differs.
func (s *Store) export(base string) {
	ctx := context.Background()
	crt, err1 := s.Load(ctx, base+".crt")
	key, err2 := s.Load(ctx, base+".key")
	if err1 != nil || err2 != nil {
		return
	}
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		return // one of the pair is still being written
	}
	name := path.Base(base)
	out := append(append(bytes.TrimSpace(crt), '\n'), key...)
	if p, _ := pem.Decode(out); p == nil {
		return
	}
	dst := filepath.Join(s.opts.CertDir, name+".pem")
	s.mu.Lock()
	old, _ := os.ReadFile(dst)
	if bytes.Equal(old, out) {
		s.mu.Unlock()
		return
	}
	err := writeAtomic(dst, out, s.opts.Owner)
	s.mu.Unlock()
	if err != nil {
		s.log.Error("acme: writing the certificate file", "file", dst, "error", err)
		return
	}
	s.log.Info("acme: certificate file written", "name", name, "file", dst)
	if s.opts.OnCertificate != nil {
		s.opts.OnCertificate(name)
	}
}

func isChallengeKey(key string) bool {
	return strings.Contains(key, "/challenge_tokens/") && strings.HasSuffix(key, ".json")
}

func hostOfChallengeKey(key string) string {
	return strings.TrimSuffix(path.Base(key), ".json")
}

// ExportAll writes NAME.pem for every certificate in the store (at start:
// a certificate directory that was emptied or moved is filled again).
func (s *Store) ExportAll() {
	keys, err := s.List(context.Background(), "certificates", true)
	if err != nil {
		return
	}
	for _, k := range keys {
		if strings.HasSuffix(k, ".crt") {
			s.export(strings.TrimSuffix(k, ".crt"))
		}
	}
}
