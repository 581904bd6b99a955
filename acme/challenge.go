package acme

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mholt/acmez/v3/acme"
)

// ChallengePath is where HTTP-01 challenges are asked (RFC 8555 8.3).
const ChallengePath = "/.well-known/acme-challenge/"

// HTTPChallenge answers an HTTP-01 challenge for host and token: the key
// authorization when one is pending here or on the peer (tokens are
// replicated before the CA validates), ok false otherwise.
func (s *Store) HTTPChallenge(host, token string) (keyAuth string, ok bool) {
	if h, _, found := strings.Cut(host, ":"); found && !strings.Contains(h, "]") {
		host = h
	}
	s.mu.Lock()
	c, ok := s.tokens[token]
	s.mu.Unlock()
	if !ok || !strings.EqualFold(c.host, host) {
		return "", false
	}
	return c.keyAuth, true
}

func (s *Store) loadToken(key string) {
	p, err := s.file(key)
	if err != nil {
		return
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return
	}
	var ch acme.Challenge
	if json.Unmarshal(b, &ch) != nil || ch.Token == "" || ch.KeyAuthorization == "" || ch.Type != acme.ChallengeTypeHTTP01 {
		return
	}
	s.mu.Lock()
	s.tokens[ch.Token] = challenge{host: ch.Identifier.Value, keyAuth: ch.KeyAuthorization}
	s.mu.Unlock()
}

// loadTokens reads the pending challenge tokens at start.
func (s *Store) loadTokens() {
	filepath.WalkDir(s.opts.Dir, func(fp string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(s.opts.Dir, fp)
		if key := filepath.ToSlash(rel); isChallengeKey(key) {
			s.loadToken(key)
		}
		return nil
	})
}
