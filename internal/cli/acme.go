package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/lbd-ha/lbd/internal/control"
)

// acmeCmd is `lbctl acme`: the certificates tls.acme manages.
func acmeCmd(client func() *control.Client, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "acme", Short: "ACME certificates (tls.acme): status, renew"}
	status := &cobra.Command{
		Use:   "status",
		Short: "list the ACME certificates with their state, expiry and last error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := client().ACMEStatus(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			renderACME(stdout, st, useColour(stdout), time.Now())
			return nil
		},
	}
	status.Flags().Bool("json", false, "print JSON")
	renew := &cobra.Command{
		Use:   "renew NAME",
		Short: "renew the certificate for NAME now (under the pair lock) and wait for it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := client()
			c.Timeout = 5 * time.Minute
			if err := c.ACMERenew(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s renewed\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(status, renew)
	return cmd
}

func renderACME(w io.Writer, st *control.ACMEStatus, colour bool, now time.Time) {
	fmt.Fprintf(w, "ACME %s (node %s)\n", st.Directory, st.Node)
	if st.PeerBehind {
		fmt.Fprintln(w, "  the peer has not got every write yet (pair link down): sent when the link returns")
	}
	t := &table{}
	t.add("NAME", "STATE", "EXPIRES", "ISSUER", "LOCK", "LAST ERROR")
	for _, c := range st.Certificates {
		state, code := c.State, ""
		switch c.State {
		case "valid":
			code = green
		case "failing":
			code = red
			state = "failing since " + c.FailingSince.Format("2006-01-02 15:04:05")
		default:
			code = yellow
		}
		exp := "-"
		if !c.NotAfter.IsZero() {
			exp = c.NotAfter.Format("2006-01-02 15:04") + " (" + c.NotAfter.Sub(now).Round(time.Hour).String() + ")"
		}
		t.addc([]string{"", code}, c.Name, state, exp, orDash(c.Issuer), orDash(c.LockHolder), orDash(firstLine(c.LastError)))
	}
	t.write(w, "  ", colour)
}
