// HAProxy health-check directives (option httpchk and friends, http-check).

package importer

import (
	"fmt"

	"github.com/lbd-ha/lbd/internal/config"
)

func (m *mapper) setHealthCheck(t *target, l hLine, f func(*config.HealthCheck)) error {
	var dst **config.HealthCheck
	switch {
	case t.def != nil:
		dst = &t.def.HealthCheck
	case t.be != nil:
		dst = &t.be.HealthCheck
	default:
		m.notHere(t, l)
		return nil
	}
	if *dst == nil {
		*dst = &config.HealthCheck{}
		if t.def == nil && m.cfg.Defaults.HealthCheck != nil {
			// lbd replaces the defaults' health_check as a whole; HAProxy
			// merges, so start from the inherited one.
			hc := *m.cfg.Defaults.HealthCheck
			if hc.Expect != nil {
				e := *hc.Expect
				hc.Expect = &e
			}
			*dst = &hc
		}
	}
	f(*dst)
	m.done(t, l, "health_check")
	return nil
}

func (m *mapper) httpCheck(t *target, l hLine) error {
	a := l.Args
	if len(a) < 2 || a[1] != "expect" {
		m.unsupported(t, l, "")
		return nil
	}
	rest := a[2:]
	if len(rest) > 0 && rest[0] == "!" {
		m.unsupported(t, l, "negated expect not supported; left out")
		return nil
	}
	if len(rest) < 2 {
		return m.errf(l.Num, "http-check expect: want status N | rstatus REGEX | string TEXT")
	}
	ce := &config.CheckExpect{}
	switch rest[0] {
	case "status":
		n, err := m.atoi(l.Num, "http-check expect status", rest[1], 100, 999)
		if err != nil {
			return err
		}
		ce.Status = n
	case "rstatus":
		ce.RStatus = rest[1]
	case "string":
		ce.String = rest[1]
	default:
		m.unsupported(t, l, fmt.Sprintf("expect %s not supported (status, rstatus, string are); left out", rest[0]))
		return nil
	}
	return m.setHealthCheck(t, l, func(dst *config.HealthCheck) {
		if dst.Type == "" {
			dst.Type = "http"
		}
		dst.Expect = ce
	})
}
