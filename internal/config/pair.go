package config

import (
	"net"
	"strings"
	"time"
)

// Pair defaults.
const (
	DefaultPairStateDir = "/var/lib/lbd"
	DefaultPairInterval = time.Second
	DefaultPairTimeout  = time.Second
)

// Pair is the link to the other node of the pair (docs/pair.md). The whole
// section is node-local (NodeLocalKeys): each node names its own address. The peer's identity
// is not a config key: `lbctl pair join` pins it in state_dir/pair.
type Pair struct {
	// Listen is this node's pair address, HOST:PORT (e.g. 10.0.0.1:7946);
	// "*:7946" listens on every address.
	Listen string `mapstructure:"listen" yaml:"listen"`
	// Peer overrides the peer address from the join token; empty: the
	// token's.
	Peer string `mapstructure:"peer" yaml:"peer,omitempty"`
	// StateDir holds pair/node.key, pair/node.crt and pair/peer.json;
	// default /var/lib/lbd.
	StateDir string `mapstructure:"state_dir" yaml:"state_dir,omitempty"`
	// Interval between presence messages (default 1s); Timeout bounds each
	// exchange (default 1s).
	Interval time.Duration `mapstructure:"interval" yaml:"interval,omitempty"`
	Timeout  time.Duration `mapstructure:"timeout" yaml:"timeout,omitempty"`
	// SplitBrain: "step_down" (default): the node that yields by the rule
	// hands over; "log": detect and report only.
	SplitBrain string `mapstructure:"split_brain" yaml:"split_brain,omitempty"`
	// Sync: "manual" (default): the shared part goes to the peer on
	// `lbctl config push`; "auto": also after every successful reload of
	// this node (not after a reload caused by the peer's push).
	Sync string `mapstructure:"sync" yaml:"sync,omitempty"`
}

// checkPair fills the pair section's defaults and checks it.
func (c *checker) checkPair(cfg *Config) {
	p := cfg.Pair
	if p == nil {
		return
	}
	p.StateDir = firstStr(p.StateDir, DefaultPairStateDir)
	if p.Interval == 0 {
		p.Interval = DefaultPairInterval
	}
	if p.Timeout == 0 {
		p.Timeout = DefaultPairTimeout
	}
	p.SplitBrain = firstStr(p.SplitBrain, "step_down")
	p.Sync = firstStr(p.Sync, "manual")
	if p.Sync != "manual" && p.Sync != "auto" {
		c.add("pair.sync", "must be manual or auto, not %q", p.Sync)
	}
	if p.Listen == "" {
		c.add("pair.listen", "the pair section needs this node's address (e.g. 10.0.0.1:7946)")
	} else {
		c.checkHostPort("pair.listen", p.Listen, true)
	}
	if p.Peer != "" {
		c.checkHostPort("pair.peer", p.Peer, false)
		if h, _, err := net.SplitHostPort(p.Peer); err == nil && (h == "0.0.0.0" || h == "::") {
			c.add("pair.peer", "must be the peer's reachable address, not a wildcard")
		}
	}
	if !strings.HasPrefix(p.StateDir, "/") {
		c.add("pair.state_dir", "must be an absolute path")
	}
	if p.Interval < 100*time.Millisecond || p.Interval > time.Minute {
		c.add("pair.interval", "must be 100ms..1m")
	}
	if p.Timeout < 10*time.Millisecond || p.Timeout > 10*time.Second {
		c.add("pair.timeout", "must be 10ms..10s")
	}
	if p.SplitBrain != "step_down" && p.SplitBrain != "log" {
		c.add("pair.split_brain", "must be step_down or log, not %q", p.SplitBrain)
	}
}
