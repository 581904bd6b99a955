package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lbd-ha/lbd/internal/control"
)

// bgpCmd is `lbctl bgp withdraw|resume`.
func bgpCmd(stdout io.Writer, client func() *control.Client) *cobra.Command {
	c := &cobra.Command{Use: "bgp", Short: "BGP maintenance: withdraw and resume this node's routes"}
	c.AddCommand(&cobra.Command{
		Use:   "withdraw",
		Short: "withdraw the VIP routes (the routers send traffic to the other nodes); the proxy keeps serving",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := client().BGPWithdraw(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "bgp: routes withdrawn until `lbctl bgp resume`")
			return nil
		},
	}, &cobra.Command{
		Use:   "resume",
		Short: "end a withdraw: announce again while tracking says this node can serve",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := client().BGPResume(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintln(stdout, "bgp: resumed (announced while tracking allows)")
			return nil
		},
	})
	return c
}

// renderBGP prints the bgp section of lbctl status (nothing when bgp is
// not configured).
func renderBGP(w io.Writer, st *control.Status, colour bool, now time.Time) {
	b := st.BGP
	if b == nil {
		return
	}
	state := "ANNOUNCED"
	why := ""
	switch {
	case b.Announced:
	case b.Draining:
		state, why = "WITHDRAWN", "stopping"
	case b.AdminWithdrawn:
		state, why = "WITHDRAWN", "lbctl bgp withdraw"
	default:
		state, why = "WITHDRAWN", b.Reason
	}
	fmt.Fprintf(w, "\nBGP  AS %d  router id %s  %s %s", b.ASN, b.RouterID, state, strings.Join(b.Prefixes, ","))
	if why != "" {
		fmt.Fprintf(w, " (%s)", why)
	}
	fmt.Fprintln(w)
	if b.LastError != "" {
		fmt.Fprintf(w, "  last error: %s\n", b.LastError)
	}
	t := &table{}
	t.add("NEIGHBOR", "AS", "STATE", "UPTIME", "FLAPS", "UPD IN/OUT", "NOTIF IN/OUT", "LAST DOWN")
	for _, n := range b.Neighbors {
		code := red
		up := "-"
		if n.State == "established" {
			code = green
			up = now.Sub(n.Since).Round(time.Second).String()
		}
		t.addc([]string{"", "", code}, n.Address, fmt.Sprint(n.ASN), n.State, up, fmt.Sprint(n.Flaps),
			fmt.Sprintf("%d/%d", n.UpdatesIn, n.UpdatesOut), fmt.Sprintf("%d/%d", n.NotificationsIn, n.NotificationsOut), orDash(n.LastDown))
	}
	t.write(w, "  ", colour)
}
