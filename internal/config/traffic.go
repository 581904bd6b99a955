package config

import (
	"errors"
	"fmt"

	"github.com/lbd-ha/lbd/internal/logformat"
)

// Defaults of log_privacy's mask.
const (
	DefaultPrivacyIPv4Prefix = 24
	DefaultPrivacyIPv6Prefix = 48
)

func (p *LogPrivacy) defaults() {
	if p == nil {
		return
	}
	p.IPv4Prefix = firstInt(p.IPv4Prefix, DefaultPrivacyIPv4Prefix)
	p.IPv6Prefix = firstInt(p.IPv6Prefix, DefaultPrivacyIPv6Prefix)
}

// copyDefaults is defaults on a copy (a listen section's value is shared).
func (p *LogPrivacy) copyDefaults() *LogPrivacy {
	if p == nil {
		return nil
	}
	q := *p
	q.defaults()
	return &q
}

// checkTraffic validates a frontend's accept_proxy, log_format and
// log_privacy.
func (c *checker) checkTraffic(f *Frontend) {
	p := f.Source
	if ap := f.AcceptProxy; ap != nil {
		for j, s := range ap.From {
			if _, err := parseNet(s); err != nil {
				c.add(fmt.Sprintf("%s.accept_proxy.from[%d]", p, j), "invalid network %q", s)
			}
		}
	}
	if f.LogFormat != "" {
		if _, err := logformat.Parse(f.LogFormat); err != nil {
			var fe *logformat.Error
			if errors.As(err, &fe) {
				c.add(p+".log_format", "column %d of the format: %s", fe.Col, fe.Msg)
			} else {
				c.add(p+".log_format", "%v", err)
			}
		}
	}
	if lp := f.LogPrivacy; lp != nil {
		if lp.Mode != "mask" && lp.Mode != "pseudonym" {
			c.add(p+".log_privacy.mode", "must be mask or pseudonym")
		}
		if lp.IPv4Prefix < 0 || lp.IPv4Prefix > 32 {
			c.add(p+".log_privacy.ipv4_prefix", "must be 0..32")
		}
		if lp.IPv6Prefix < 0 || lp.IPv6Prefix > 128 {
			c.add(p+".log_privacy.ipv6_prefix", "must be 0..128")
		}
	}
}
