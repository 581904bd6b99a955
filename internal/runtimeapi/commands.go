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
