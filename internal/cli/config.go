package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lbd-ha/lbd/internal/control"
)

// configCmd is `lbctl config`: compare this node's config with the peer's.
func configCmd(client func() *control.Client, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "the pair's config files: diff"}
	cmd.AddCommand(&cobra.Command{
		Use:   "diff",
		Short: "show a unified diff of this node's config file against the peer's (over the pair link)",
		Long: `diff fetches the peer's config file over the pair link and prints a unified
diff (this node's file as ---, the peer's as +++). Whole files are compared,
node-local keys (VRRP priority, unicast addresses, pair.listen) included.
Exit status: 0 same, 1 different, 2 trouble (as diff(1)).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pc, err := client().PeerConfig(cmd.Context())
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			d := unifiedDiff(pc.LocalFile+" (this node)", pc.File+" ("+pc.Node+")", pc.Local, pc.Content, 3)
			if d == "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "the config files are identical")
				return nil
			}
			fmt.Fprint(stdout, d)
			return &ExitError{Code: 1}
		},
	})
	return cmd
}
