package runtimeapi

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// command is one entry of the command table. words are the fixed leading
// words that select it; usage is what help prints in the left column.
type command struct {
	words []string
	usage string
	help  string
	level Level
	run   func(s *session, args []string) string
}

// commands is the table in help order. Every output ends with a newline
// (or is empty); the session adds the blank line that ends a response.
var commands []command

func init() {
	commands = []command{
		{[]string{"disable", "frontend"}, "disable frontend <frontend>", "stop accepting connections on a frontend", LevelAdmin, cmdFrontend(false)},
		{[]string{"disable", "health"}, "disable health <bk>/<srv>", "pause a server's health checks", LevelAdmin, cmdHealth(false)},
		{[]string{"disable", "server"}, "disable server <bk>/<srv>", "put a server in maintenance (= set server ... state maint)", LevelAdmin, cmdAdmin("maint")},
		{[]string{"enable", "frontend"}, "enable frontend <frontend>", "accept connections on a stopped frontend again", LevelAdmin, cmdFrontend(true)},
		{[]string{"enable", "health"}, "enable health <bk>/<srv>", "resume a server's health checks", LevelAdmin, cmdHealth(true)},
		{[]string{"enable", "server"}, "enable server <bk>/<srv>", "take a server out of maintenance (= set server ... state ready)", LevelAdmin, cmdAdmin("ready")},
		{[]string{"get", "weight"}, "get weight <bk>/<srv>", "print a server's current and configured weight", LevelUser, cmdGetWeight},
		{[]string{"operator"}, "operator", "lower this session's level to operator", LevelOperator, cmdLower(LevelOperator)},
		{[]string{"set", "server"}, "set server <bk>/<srv> state|weight ...", "set a server's admin state (ready, drain, maint) or weight", LevelAdmin, cmdSetServer},
		{[]string{"set", "timeout", "cli"}, "set timeout cli <delay>", "change this session's idle timeout", LevelUser, cmdSetTimeout},
		{[]string{"set", "weight"}, "set weight <bk>/<srv> <w>[%]", "set a server's weight (absolute, or percent of the configured one)", LevelAdmin, cmdSetWeight},
		{[]string{"show", "backend"}, "show backend", "list the backends", LevelUser, cmdShowBackend},
		{[]string{"show", "cli", "level"}, "show cli level", "print this session's level", LevelUser, func(s *session, _ []string) string { return s.level.String() + "\n" }},
		{[]string{"show", "errors"}, "show errors", "captured protocol errors (lbd keeps none)", LevelOperator, cmdShowErrors},
		{[]string{"show", "info"}, "show info", "process information, one Name: value per line", LevelUser, cmdShowInfo},
		{[]string{"show", "servers", "state"}, "show servers state [<backend>]", "server states in the server-state-file format", LevelUser, cmdShowServersState},
		{[]string{"show", "sess"}, "show sess", "current sessions per frontend (summary)", LevelOperator, cmdShowSess},
		{[]string{"show", "stat"}, "show stat [{<iid>|<proxy>} <type> <sid>] [typed|up|no-maint]", "counters of every proxy and server (CSV)", LevelUser, cmdShowStat},
		{[]string{"user"}, "user", "lower this session's level to user", LevelUser, cmdLower(LevelUser)},
		{[]string{"help"}, "help [<command>]", "list the commands, or those starting with <command>", LevelUser, cmdHelp},
		{[]string{"prompt"}, "prompt", "toggle interactive mode with a prompt", LevelUser, nil},
		{[]string{"quit"}, "quit", "close this connection", LevelUser, nil},
	}
}

// lookup finds the command whose words start args; nil if none.
func lookup(args []string) *command {
	for i := range commands {
		c := &commands[i]
		if len(args) < len(c.words) {
			continue
		}
		ok := true
		for j, w := range c.words {
			if args[j] != w {
				ok = false
				break
			}
		}
		if ok {
			return c
		}
	}
	return nil
}

// helpLine formats one table entry: usage padded to 40 columns, ": ", help.
func helpLine(c *command) string {
	return fmt.Sprintf("  %-40s: %s\n", c.usage, c.help)
}

// listCommands lists the commands usable at level; with prefix set, only
// those whose first word is prefix (plus help, prompt and quit), as
// HAProxy's "maybe one of the following" answer.
func listCommands(level Level, prefix string) string {
	var b strings.Builder
	for i := range commands {
		c := &commands[i]
		if c.level > level {
			continue
		}
		if prefix != "" && c.words[0] != prefix && c.words[0] != "help" && c.words[0] != "prompt" && c.words[0] != "quit" {
			continue
		}
		b.WriteString(helpLine(c))
	}
	return b.String()
}

// unknownCommand answers as HAProxy: in interactive mode with the whole
// list, otherwise with suggestions (the commands sharing the first word,
// or all of them when none does).
func unknownCommand(s *session, args []string) string {
	if s.interactive {
		return "Unknown command. Please enter one of the following commands only:\n" + listCommands(s.level, "")
	}
	const maybe = "Unknown command, but maybe one of the following ones is a better match:\n"
	if len(args) > 0 {
		for i := range commands {
			if commands[i].words[0] == args[0] && commands[i].level <= s.level {
				return maybe + listCommands(s.level, args[0])
			}
		}
	}
	return maybe + listCommands(s.level, "")
}

func cmdHelp(s *session, args []string) string {
	if len(args) > 1 {
		if l := listCommands(s.level, args[1]); l != "" {
			return "The following commands are valid at this level:\n" + l
		}
	}
	return "The following commands are valid at this level:\n" + listCommands(s.level, "")
}

func cmdLower(to Level) func(*session, []string) string {
	return func(s *session, _ []string) string {
		if to < s.level {
			s.level = to
		}
		return ""
	}
}

func cmdSetTimeout(s *session, args []string) string {
	if len(args) < 4 {
		return "Expects an integer value.\n"
	}
	d, err := parseDelay(args[3])
	if err != nil || d <= 0 {
		return "Invalid timeout value.\n"
	}
	s.idle = min(d, maxIdle)
	return ""
}

// parseDelay reads HAProxy's time format: a number with an optional unit
// (us, ms, s, m, h, d); no unit means seconds (`set timeout cli` counts in
// seconds).
func parseDelay(v string) (time.Duration, error) {
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil || n > 1<<31 {
		return 0, fmt.Errorf("bad delay %q", v)
	}
	unit := map[string]time.Duration{"": time.Second, "us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[v[i:]]
	if unit == 0 {
		return 0, fmt.Errorf("bad delay unit %q", v)
	}
	return time.Duration(n) * unit, nil
}

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
		return errText(s.b.SetFrontendEnabled(args[2], on, s.who))
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

func cmdShowBackend(s *session, _ []string) string {
	var b strings.Builder
	b.WriteString("# name\n")
	for _, be := range s.b.Status().Backends {
		b.WriteString(oneLine(be.Name))
		b.WriteByte('\n')
	}
	return b.String()
}

func cmdShowErrors(s *session, _ []string) string {
	return "Total events captured on [" + s.now().Format("02/Jan/2006:15:04:05.000") + "] : 0\n"
}

// cmdShowSess is the summary form: one line per frontend with its current
// and total sessions (lbd keeps no per-stream table to dump).
func cmdShowSess(s *session, _ []string) string {
	var b strings.Builder
	for _, f := range s.b.Status().Frontends {
		fmt.Fprintf(&b, "fe=%s mode=%s scur=%d smax=%d stot=%d\n", oneLine(f.Name), f.Mode, f.Sessions, f.MaxSession, f.Total)
	}
	return b.String()
}

// oneLine keeps a name on one line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}
