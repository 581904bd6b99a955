package stats

import (
	"strconv"
	"strings"

	"github.com/lbd-ha/lbd/internal/control"
)

// ServerStatusText is the status column HAProxy prints for a server: UP,
// DOWN, DRAIN, MAINT, "no check" (UP without health checks), or the
// transitional "UP i/n" (failing checks, not yet down) and "DOWN i/n"
// (passing checks, not yet up).
func ServerStatusText(s control.ServerStatus) string {
	state := strings.ToUpper(s.State)
	c := s.Check
	switch state {
	case "UP":
		if !c.Enabled {
			return "no check"
		}
		// Health counts rise..rise+fall-1 while UP; below the top the
		// server is going down: "UP fails-left/fall".
		if c.Rise > 0 && c.Fall > 0 && c.Health >= c.Rise && c.Health < c.Rise+c.Fall-1 {
			return "UP " + strconv.Itoa(c.Health-c.Rise+1) + "/" + strconv.Itoa(c.Fall)
		}
		return "UP"
	case "DOWN":
		if c.Enabled && c.Rise > 0 && c.Health > 0 && c.Health < c.Rise {
			return "DOWN " + strconv.Itoa(c.Health) + "/" + strconv.Itoa(c.Rise)
		}
		return "DOWN"
	case "":
		return "UNKNOWN"
	}
	return state
}

// stateClass maps a server state to the CSS class of its row.
func stateClass(state string) string {
	switch strings.ToUpper(state) {
	case "UP":
		return "up"
	case "DOWN":
		return "down"
	case "DRAIN":
		return "drain"
	case "MAINT":
		return "maint"
	}
	return "unknown"
}

// checkText is the check cell: "L7OK/200 in 3ms", "L4CON", "no check".
func checkText(c control.CheckStatus) string {
	if !c.Enabled {
		return "no check"
	}
	if c.Result == "" {
		return "INI"
	}
	s := c.Result
	if c.Code != 0 {
		s += "/" + strconv.Itoa(c.Code)
	}
	if c.Duration > 0 {
		s += " in " + strconv.FormatInt(c.Duration.Milliseconds(), 10) + "ms"
	}
	return s
}

// checkOK reports whether a check result is a success (L4OK, L6OK, L7OK, L7OKC).
func checkOK(result string) bool {
	return strings.HasPrefix(result, "L") && strings.Contains(result, "OK")
}
