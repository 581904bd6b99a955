package runtimeapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lbd-ha/lbd/proxy"
)

// serverArg splits "<bk>/<srv>" and checks that both exist, answering as
// HAProxy does otherwise.
func (s *session) serverArg(args []string, i int) (be, srv, msg string) {
	if len(args) <= i {
		return "", "", "Require 'backend/server'.\n"
	}
	be, srv, ok := strings.Cut(args[i], "/")
	if !ok || be == "" || srv == "" {
		return "", "", "Require 'backend/server'.\n"
	}
	st := s.b.Status()
	for _, b := range st.Backends {
		if b.Name != be {
			continue
		}
		for _, sv := range b.Servers {
			if sv.Name == srv {
				return be, srv, ""
			}
		}
		return "", "", "No such server.\n"
	}
	return "", "", "No such backend.\n"
}

// errText is a failed change's answer: one sentence ending in a period.
func errText(err error) string {
	if err == nil {
		return ""
	}
	msg := oneLine(err.Error())
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg + "\n"
}

func cmdAdmin(state string) func(*session, []string) string {
	return func(s *session, args []string) string {
		be, srv, msg := s.serverArg(args, 2)
		if msg != "" {
			return msg
		}
		return errText(s.b.SetServerAdmin(be, srv, state, s.who))
	}
}

func cmdHealth(on bool) func(*session, []string) string {
	return func(s *session, args []string) string {
		be, srv, msg := s.serverArg(args, 2)
		if msg != "" {
			return msg
		}
		return errText(s.b.SetHealthChecks(be, srv, on, s.who))
	}
}

func cmdFrontend(on bool) func(*session, []string) string {
	return func(s *session, args []string) string {
		if len(args) < 3 {
			return "A frontend name is expected.\n"
		}
		found := false
		for _, f := range s.b.Status().Frontends {
			found = found || f.Name == args[2]
		}
		if !found {
			return "No such frontend.\n"
		}
		switch err := s.b.SetFrontendEnabled(args[2], on, s.who); {
		case errors.Is(err, proxy.ErrFrontendPaused):
			return "All sockets are already disabled.\n"
		case errors.Is(err, proxy.ErrFrontendActive):
			return "All sockets are already enabled.\n"
		default:
			return errText(err)
		}
	}
}

const requireWeight = "Require <weight> or <weight%>.\n"

const setServerUsage = "usage: set server <backend>/<server> state | weight\n"

func cmdSetServer(s *session, args []string) string {
	be, srv, msg := s.serverArg(args, 2)
	if msg != "" {
		return msg
	}
	if len(args) < 4 {
		return setServerUsage
	}
	switch args[3] {
	case "state":
		if len(args) < 5 {
			return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
		}
		switch args[4] {
		case "ready", "drain", "maint":
			return errText(s.b.SetServerAdmin(be, srv, args[4], s.who))
		}
		return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
	case "weight":
		if len(args) < 5 {
			return requireWeight
		}
		return s.setWeight(be, srv, args[4])
	}
	return setServerUsage
}

func cmdSetWeight(s *session, args []string) string {
	be, srv, msg := s.serverArg(args, 2)
	if msg != "" {
		return msg
	}
	if len(args) < 4 {
		return requireWeight
	}
	return s.setWeight(be, srv, args[3])
}

// setWeight applies "<w>" (0..256) or "<p>%" (of the configured weight).
func (s *session) setWeight(be, srv, v string) string {
	pct := strings.HasSuffix(v, "%")
	n, err := strconv.Atoi(strings.TrimSuffix(v, "%"))
	if err != nil {
		return "Empty weight string empty or preceded by garbage" // sic: HAProxy ends this one without a newline
	}
	if n < 0 {
		return "Absolute weight can only be between 0 and 256 inclusive.\n"
	}
	w := n
	if pct {
		iw, _ := s.b.InitialWeight(be, srv)
		if n > 100*256 {
			return "Relative weight too large.\n"
		}
		w = (iw*n + 50) / 100
		w = min(w, 256)
	} else if n > 256 {
		return "Absolute weight can only be between 0 and 256 inclusive.\n"
	}
	return errText(s.b.SetServerWeight(be, srv, w, s.who))
}

func cmdGetWeight(s *session, args []string) string {
	be, srv, msg := s.serverArg(args, 2)
	if msg != "" {
		return msg
	}
	cur := 0
	for _, b := range s.b.Status().Backends {
		if b.Name == be {
			for _, sv := range b.Servers {
				if sv.Name == srv {
					cur = sv.Weight
				}
			}
		}
	}
	iw, _ := s.b.InitialWeight(be, srv)
	return fmt.Sprintf("%d (initial %d)\n", cur, iw)
}
