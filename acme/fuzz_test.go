package acme

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzStoreKey: a key from the peer never reaches outside the store.
func FuzzStoreKey(f *testing.F) {
	for _, k := range []string{"certificates/a/b.crt", "../x", "a/../../b", "/abs", "a//b", ".hidden", "a\\b", "acme/x/challenge_tokens/h.json"} {
		f.Add(k, []byte("v"))
	}
	dir := f.TempDir()
	s, err := NewStore(StoreOptions{Dir: filepath.Join(dir, "store"), CertDir: filepath.Join(dir, "certs"), Node: "n", LockTTL: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		p, err := s.file(key)
		if err != nil {
			return
		}
		if !strings.HasPrefix(p, s.opts.Dir+string(filepath.Separator)) {
			t.Fatalf("key %q maps to %s, outside %s", key, p, s.opts.Dir)
		}
		s.ApplyPut(key, value, time.Now(), false)
		s.HTTPChallenge("h", key)
		s.ApplyLease(LeaseRequest{Name: key, Owner: string(value), TTL: time.Second, Op: "acquire"})
		s.ApplyPut(key, nil, time.Now(), true)
	})
}
