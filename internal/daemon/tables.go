package daemon

import (
	"github.com/lbd-ha/lbd/internal/control"
)

// Table implements control.TableBackend: a stick table's top entries.
func (d *Daemon) Table(name string, max int) (control.TableShow, error) {
	rt := d.runtime()
	if rt == nil {
		return control.TableShow{}, errNoRuntime
	}
	t, err := rt.engine.Table(name, max)
	if err != nil {
		return control.TableShow{}, notFound(err)
	}
	out := control.TableShow{Name: t.Name, Size: t.Size, Used: t.Used, Evictions: t.Evictions, Untracked: t.Untracked, PeerSent: t.PeerSent, PeerReceived: t.PeerReceived, Entries: []control.TableEntry{}}
	for _, e := range t.Entries {
		out.Entries = append(out.Entries, control.TableEntry{Key: e.Key, ExpireMS: e.Expire.Milliseconds(), Refs: e.Refs, Counters: e.Counters, Peer: e.Peer})
	}
	return out, nil
}
