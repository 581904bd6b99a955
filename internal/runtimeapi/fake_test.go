package runtimeapi

import (
	"fmt"
	"sync"
	"time"

	"github.com/lbd-ha/lbd/internal/control"
)

var testNow = time.Date(2026, time.December, 4, 12, 0, 0, 0, time.UTC)

// fakeBackend records the changes the runtime API asks for.
type fakeBackend struct {
	mu      sync.Mutex
	st      control.Status
	initial map[string]int
	calls   []string
}

func newFake() *fakeBackend {
	return &fakeBackend{
		initial: map[string]int{"be/web01": 1, "be/web02": 50},
		st: control.Status{
			Version: "1.0.0", PID: 42, Node: "lb1", StartedAt: testNow.Add(-time.Hour), UptimeSec: 3600,
			Frontends: []control.FrontendStatus{{Name: "fe", Mode: "http", Binds: []string{"127.0.0.1:80"}, Serving: true, Limit: 100, Sessions: 2, Total: 9}},
			Backends: []control.BackendStatus{{
				Name: "be", Mode: "http", Balance: "roundrobin", Usable: true,
				Servers: []control.ServerStatus{
					{Name: "web01", Address: "127.0.0.1:8001", State: "UP", Weight: 1, LastChange: testNow.Add(-10 * time.Second)},
					{Name: "web02", Address: "127.0.0.1:8002", State: "UP", Weight: 50,
						Check: control.CheckStatus{Enabled: true, Result: "L7OK", Code: 200, Health: 4, Rise: 2, Fall: 3}},
				},
			}},
		},
	}
}

func (f *fakeBackend) Status() control.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	st.Backends = append([]control.BackendStatus(nil), f.st.Backends...)
	for i := range st.Backends {
		st.Backends[i].Servers = append([]control.ServerStatus(nil), f.st.Backends[i].Servers...)
	}
	return st
}

func (f *fakeBackend) Maxconn() int { return 4096 }

func (f *fakeBackend) InitialWeight(b, s string) (int, bool) {
	w, ok := f.initial[b+"/"+s]
	return w, ok
}

func (f *fakeBackend) server(b, s string) *control.ServerStatus {
	for i := range f.st.Backends {
		if f.st.Backends[i].Name != b {
			continue
		}
		for j := range f.st.Backends[i].Servers {
			if f.st.Backends[i].Servers[j].Name == s {
				return &f.st.Backends[i].Servers[j]
			}
		}
	}
	return nil
}

func (f *fakeBackend) SetServerAdmin(b, s, state, who string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("admin %s/%s %s", b, s, state))
	sv := f.server(b, s)
	switch state {
	case "maint":
		sv.State = "MAINT"
	case "drain":
		sv.State = "DRAIN"
	default:
		sv.State = "UP"
	}
	return nil
}

func (f *fakeBackend) SetServerWeight(b, s string, w int, who string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("weight %s/%s %d", b, s, w))
	f.server(b, s).Weight = w
	return nil
}

func (f *fakeBackend) SetHealthChecks(b, s string, on bool, who string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("health %s/%s %v", b, s, on))
	return nil
}

func (f *fakeBackend) SetFrontendEnabled(name string, on bool, who string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("frontend %s %v", name, on))
	return nil
}

func (f *fakeBackend) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}
