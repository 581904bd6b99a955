package vip

import (
	"context"
	"errors"
	"fmt"
)

// RemoveStale removes every configured VIP in addrs that is present on its
// interface: at startup lbd holds no VIP yet, so any found was left by a
// crashed (SIGKILLed) lbd and would answer ARP beside the real master. It
// returns the addresses it removed and every error met (joined); a missing
// interface is reported and the others are still processed.
func RemoveStale(ctx context.Context, m Manager, addrs []Address) ([]Address, error) {
	var removed []Address
	var errs []error
	for _, a := range addrs {
		has, err := m.Has(ctx, a)
		if err != nil {
			errs = append(errs, fmt.Errorf("stale VIP cleanup: %w", err))
			continue
		}
		if !has {
			continue
		}
		if err := m.Remove(ctx, a); err != nil {
			errs = append(errs, fmt.Errorf("stale VIP cleanup: %w", err))
			continue
		}
		removed = append(removed, a)
	}
	return removed, errors.Join(errs...)
}
