package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/stats"
)

// LBCTL runs the lbctl command line and returns the exit code.
func LBCTL(args []string, stdout, stderr io.Writer) int {
	return execute(lbctlRoot(stdout, stderr), args, stderr)
}

func lbctlRoot(stdout, stderr io.Writer) *cobra.Command {
	var socket string
	client := func() *control.Client { return &control.Client{Socket: socket} }
	root := &cobra.Command{
		Use:   "lbctl",
		Short: "lbctl: the console for a running lbd",
		Long: `lbctl talks to the local lbd over its control socket (default
/run/lbd/lbd.sock, root only). Start with "lbctl status".`,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&socket, "socket", control.DefaultSocket, "lbd control socket")

	status := &cobra.Command{
		Use:   "status",
		Short: "show node, VRRP, frontends, backends and servers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asJSON, _ := cmd.Flags().GetBool("json")
			watch, _ := cmd.Flags().GetDuration("watch")
			show := func() error {
				st, err := client().Status(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					enc := json.NewEncoder(stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(st)
				}
				renderStatus(stdout, st, useColour(stdout), time.Now())
				return nil
			}
			if watch <= 0 {
				return show()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			for {
				fmt.Fprint(stdout, "\x1b[H\x1b[2J")
				if err := show(); err != nil {
					fmt.Fprintf(stdout, "lbctl: %v\n", err)
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(watch):
				}
			}
		},
	}
	status.Flags().Bool("json", false, "print the status as JSON (stable field names)")
	status.Flags().Duration("watch", 0, "redraw every INTERVAL (e.g. 2s) until interrupted")
	status.Flags().Lookup("watch").NoOptDefVal = "2s"

	reload := &cobra.Command{
		Use:   "reload",
		Short: "reload the config file (same as SIGHUP); an invalid file changes nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := client().Reload(cmd.Context())
			if err != nil {
				return err
			}
			if !r.OK {
				return fmt.Errorf("reload refused, the old config keeps serving:\n%s", r.Error)
			}
			fmt.Fprintln(stdout, "config reloaded")
			return nil
		},
	}

	upgradeCmd := &cobra.Command{
		Use:   "upgrade",
		Short: "replace the running lbd with the installed binary, keeping the listeners and the VIP",
		Long: `upgrade starts the installed /usr/bin/lbd as a new process that takes over
the listening sockets, the control socket and the VRRP instances (a master
stays master: no priority-0 advert, the VIP stays up). The old process then
soft-stops: each of its connections answers its next request with
Connection: close, idle ones close at their keep-alive expiry, tcp sessions
run to their end, all within global.hard_stop_after; then it exits. An
upgrade started while the previous old process still runs waits for it. If
the new process does not become ready, it is stopped and the old one keeps
serving. Same as SIGUSR2.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := client()
			c.Timeout = time.Minute
			r, err := c.Upgrade(cmd.Context())
			if err != nil {
				return err
			}
			if !r.OK {
				return fmt.Errorf("upgrade failed, pid %d keeps serving: %s", r.OldPID, r.Error)
			}
			fmt.Fprintf(stdout, "upgraded: pid %d serves, pid %d drains and exits\n", r.NewPID, r.OldPID)
			return nil
		},
	}

	server := &cobra.Command{Use: "server", Short: "change a server at runtime: drain, disable, enable, weight"}
	for _, v := range []struct{ use, state, short string }{
		{"drain", "drain", "stop new non-persistent traffic to BACKEND/SERVER; sessions finish"},
		{"disable", "maint", "put BACKEND/SERVER in maintenance: no traffic, no checks"},
		{"enable", "ready", "return BACKEND/SERVER to service (health checks decide UP/DOWN)"},
	} {
		server.AddCommand(&cobra.Command{
			Use:   v.use + " BACKEND/SERVER",
			Short: v.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				b, s, err := splitServer(args[0])
				if err != nil {
					return err
				}
				local, _ := cmd.Flags().GetBool("local")
				res, err := client().ChangeServerState(cmd.Context(), b, s, v.state, local)
				if err != nil {
					return err
				}
				printServerChange(stdout, b+"/"+s, strings.ToUpper(v.state), res)
				return nil
			},
		})
	}
	server.AddCommand(&cobra.Command{
		Use:   "weight BACKEND/SERVER N",
		Short: "set the server's weight (0..256)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, s, err := splitServer(args[0])
			if err != nil {
				return err
			}
			w, err := strconv.Atoi(args[1])
			if err != nil {
				return fmt.Errorf("weight %q is not a number", args[1])
			}
			local, _ := cmd.Flags().GetBool("local")
			res, err := client().ChangeServerWeight(cmd.Context(), b, s, w, local)
			if err != nil {
				return err
			}
			printServerChange(stdout, b+"/"+s, fmt.Sprintf("weight %d", w), res)
			return nil
		},
	})
	server.PersistentFlags().Bool("local", false, "change this node only, not the pair peer")

	vrrpCmd := &cobra.Command{Use: "vrrp", Short: "VRRP maintenance: handover and resume"}
	vrrpCmd.AddCommand(&cobra.Command{
		Use:   "handover [INSTANCE]",
		Short: "step down as master (priority 0) and stay backup until resume",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inst := strings.Join(args, "")
			if err := client().VRRPHandover(cmd.Context(), inst); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "handover: %s stays backup until `lbctl vrrp resume`\n", orAll(inst))
			return nil
		},
	}, &cobra.Command{
		Use:   "resume [INSTANCE]",
		Short: "end a handover: take part in elections again",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inst := strings.Join(args, "")
			if err := client().VRRPResume(cmd.Context(), inst); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "resume: %s takes part in elections again\n", orAll(inst))
			return nil
		},
	})

	root.AddCommand(status, reload, upgradeCmd, server, vrrpCmd, tableCmd(stdout, client), bgpCmd(stdout, client), certCmd(client, stdout), importCmd(stdout, stderr), versionCmd("lbctl"), manCmd(root))
	root.AddCommand(pairCmd(stdout), configCmd(client, stdout), acmeCmd(client, stdout))
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		cmd.SetContext(context.Background())
	}
	return root
}

func orAll(s string) string {
	if s == "" {
		return "all instances"
	}
	return s
}

func splitServer(s string) (string, string, error) {
	b, srv, ok := strings.Cut(s, "/")
	if !ok || b == "" || srv == "" {
		return "", "", fmt.Errorf("want BACKEND/SERVER (e.g. app_servers/web01), got %q", s)
	}
	return b, srv, nil
}

// useColour: colour only on a terminal, and never with NO_COLOR set.
func useColour(w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

const (
	green  = "\x1b[32m"
	red    = "\x1b[1;31m"
	yellow = "\x1b[33m"
	blue   = "\x1b[36m"
)

func stateColour(s string) string {
	switch s {
	case "UP", "MASTER":
		return green
	case "DOWN", "FAULT":
		return red
	case "DRAIN", "BACKUP":
		return yellow
	case "MAINT":
		return blue
	}
	return ""
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}

// renderStatus prints the one-screen answer to "is my pair healthy?".
func renderStatus(w io.Writer, st *control.Status, colour bool, now time.Time) {
	fmt.Fprintf(w, "lbd %s on %s  pid %d  up %s\n", st.Version, st.Node, st.PID, (time.Duration(st.UptimeSec) * time.Second).String())
	fmt.Fprintf(w, "config %s (loaded %s)\n", st.ConfigFile, st.ConfigLoad.Format("2006-01-02 15:04:05"))
	if r := st.LastReload; r != nil {
		if r.OK {
			fmt.Fprintf(w, "last reload %s by %s: accepted\n", r.At.Format("15:04:05"), r.Source)
		} else {
			fmt.Fprintf(w, "last reload %s by %s: REFUSED (old config serving): %s\n", r.At.Format("15:04:05"), r.Source, firstLine(r.Error))
		}
	}

	fmt.Fprintln(w, "\nVRRP")
	if len(st.VRRP) == 0 {
		fmt.Fprintln(w, "  no instances configured")
	} else {
		t := &table{}
		t.add("INSTANCE", "STATE", "PRIO", "VIPS", "MASTER", "ADVERT", "RX/TX", "LAST CHANGE")
		for _, v := range st.VRRP {
			held := "not held"
			if v.VIPsHeld {
				held = "held"
			}
			state := v.State
			if v.HandedOver {
				state += " (handover)"
			}
			t.addc([]string{"", stateColour(v.State)}, v.Name, state,
				fmt.Sprintf("%d/%d", v.EffectivePriority, v.BasePriority),
				strings.Join(v.VIPs, ",")+" "+held, orDash(v.MasterIP), v.AdvertInterval.String(),
				fmt.Sprintf("%d/%d", v.AdvertsRx, v.AdvertsTx), ago(now, v.LastTransition)+" "+v.LastReason)
		}
		t.write(w, "  ", colour)
		for _, v := range st.VRRP {
			if drops := formatDrops(v.Drops); drops != "" {
				fmt.Fprintf(w, "  %s drops: %s\n", v.Name, drops)
			}
		}
	}

	renderPair(w, st, colour, now)

	renderBGP(w, st, colour, now)
	fmt.Fprintln(w, "\nFRONTENDS")
	if len(st.Frontends) == 0 {
		fmt.Fprintln(w, "  none")
	} else {
		t := &table{}
		t.add("NAME", "MODE", "STATE", "SESSIONS", "MAX", "LIMIT", "REQ/S", "TOTAL", "BINDS")
		for _, f := range st.Frontends {
			state := "OPEN"
			code := green
			if !f.Serving {
				state, code = "STOPPED", red
			}
			t.addc([]string{"", "", code}, f.Name, f.Mode, state, itoa(f.Sessions), itoa(f.MaxSession), itoa(f.Limit),
				fmt.Sprintf("%.1f", f.ReqRate), strconv.FormatUint(f.Total, 10), strings.Join(f.Binds, ","))
		}
		t.write(w, "  ", colour)
		for _, f := range st.Frontends {
			if f.TLSFailures != nil {
				fmt.Fprintf(w, "  %s TLS: %d handshakes, failed: %s\n", f.Name, f.TLSHandshakes, stats.TLSFailures(f.TLSFailures))
			}
			if f.H2Streams > 0 {
				fmt.Fprintf(w, "  %s h2: %d streams (%d open), %d refused, %d reset by clients, %d connections ended for floods\n",
					f.Name, f.H2Streams, f.H2StreamsCur, f.H2Refused, f.H2Resets, f.H2Calm)
			}
		}
	}
	renderCertWarnings(w, st.Certificates, colour)

	fmt.Fprintln(w, "\nBACKENDS")
	if len(st.Backends) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, b := range st.Backends {
		up := 0
		for _, s := range b.Servers {
			if s.State == "UP" {
				up++
			}
		}
		health := fmt.Sprintf("%d/%d servers UP", up, len(b.Servers))
		if !b.Usable {
			health += ", NO USABLE SERVER"
		}
		fmt.Fprintf(w, "  %s (%s, %s)  sessions %d  queue %d\n", b.Name, b.Mode, health, b.Sessions, b.Queue)
		t := &table{}
		t.add("SERVER", "STATE", "CHECK", "WEIGHT", "SESSIONS", "QUEUE", "TOTAL", "LAST CHANGE")
		for _, s := range b.Servers {
			name := s.Name
			if s.Backup {
				name += " (backup)"
			}
			t.addc([]string{"", stateColour(s.State)}, name, s.State, checkText(s.Check), strconv.Itoa(s.Weight),
				itoa(s.Sessions), itoa(s.Queue), strconv.FormatUint(s.Total, 10), ago(now, s.LastChange))
		}
		t.write(w, "    ", colour)
		for _, s := range b.Servers {
			if s.TLS && s.TLSFailures > 0 {
				fmt.Fprintf(w, "    %s TLS: %s\n", s.Name, stats.ServerTLSCounts(s))
			}
		}
	}

	if len(st.Sysctl) > 0 {
		fmt.Fprintln(w, "\nSYSCTL")
		t := &table{}
		for _, r := range st.Sysctl {
			note := "unchanged"
			if r.Changed {
				note = "raised"
			}
			if r.Warning != "" {
				note = "warning: " + r.Warning
			}
			t.add(r.Key, orDash(r.Old)+" -> "+orDash(r.New), note)
		}
		t.write(w, "  ", colour)
	}
}

func checkText(c control.CheckStatus) string {
	if !c.Enabled {
		return "no check"
	}
	s := c.Result
	if s == "" {
		s = "pending"
	}
	if c.Code != 0 {
		s += fmt.Sprintf(" %d", c.Code)
	}
	if c.Duration > 0 {
		s += " in " + c.Duration.Round(time.Millisecond).String()
	}
	if c.Info != "" && !strings.HasSuffix(c.Result, "OK") {
		s += " (" + c.Info + ")"
	}
	return s
}

func formatDrops(m map[string]uint64) string {
	var keys []string
	for k, v := range m {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " (...)"
	}
	return s
}
