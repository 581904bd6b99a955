package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lbd-ha/lbd/internal/control"
)

// configCmd is `lbctl config`: compare this node's config with the peer's.
func configCmd(client func() *control.Client, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "the pair's config: diff with the peer, push to the peer"}
	var all bool
	diff := &cobra.Command{
		Use:   "diff",
		Short: "show a unified diff of this node's shared config against the peer's (over the pair link)",
		Long: `diff fetches the peer's config file over the pair link and prints a unified
diff of the shared parts (this node's as ---, the peer's as +++): node-local
keys (config.md#node-local-keys: VRRP priority, interface and unicast
addresses, pair, sysctl, global.control_socket) are left out, as in the
"config in sync" of lbctl status. --all compares the whole files.
Exit status: 0 same, 1 different, 2 trouble (as diff(1)).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pc, err := client().PeerConfig(cmd.Context())
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			a, b, what := pc.LocalShared, pc.Shared, "the shared parts of the config files are identical (node-local keys not compared; --all compares whole files)"
			if all || (a == "" && b == "" && (pc.Local != "" || pc.Content != "")) {
				a, b, what = pc.Local, pc.Content, "the config files are identical"
			}
			d := unifiedDiff(pc.LocalFile+" (this node)", pc.File+" ("+pc.Node+")", a, b, 3)
			if d == "" {
				fmt.Fprintln(cmd.ErrOrStderr(), what)
				return nil
			}
			fmt.Fprint(stdout, d)
			return &ExitError{Code: 1}
		},
	}
	diff.Flags().BoolVar(&all, "all", false, "compare the whole files, node-local keys included")
	push := &cobra.Command{
		Use:   "push",
		Short: "send this node's shared config to the peer, which validates, writes and reloads it",
		Long: `push sends the shared part of this node's config file (the file without its
node-local keys) to the peer over the pair link. The peer merges it with its
own node-local keys, validates the result exactly as lbd check does, writes
its file atomically (keeping the previous one as FILE.prev), reloads, and
answers. This node's file and running config do not change.
Exit status: 0 applied (or already equal), 1 refused by the peer, 2 trouble
(peer unreachable, no pair link, a push already in progress).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := client()
			c.Timeout = 30 * time.Second // the peer answers after its reload (bounded at 15s + pair.timeout)
			res, err := c.PushConfig(cmd.Context())
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			for i, n := range res.Nodes {
				line := fmt.Sprintf("%s %s: %s", role(i), n.Node, n.Status)
				switch {
				case n.Status == "sent":
					line += ": " + n.Detail
				case n.Status == "applied":
					line += fmt.Sprintf(": %s written and reloaded", n.File)
					if n.Prev != "" {
						line += " (previous file kept as " + n.Prev + ")"
					}
				case n.Status == "unchanged":
					line += ": its shared part is this one already; nothing written"
				case n.Error != "":
					line += ", nothing changed there, the old config keeps serving:\n" + indent(n.Error)
				}
				fmt.Fprintln(stdout, line)
			}
			if !res.OK {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	cmd.AddCommand(diff, push)
	return cmd
}

// role names the nodes of a two-node answer: this node first.
func role(i int) string {
	if i == 0 {
		return "this node"
	}
	return "peer"
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}
