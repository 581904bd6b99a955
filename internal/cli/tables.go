package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/lbd-ha/lbd/internal/control"
)

// tableCmd is `lbctl table show NAME`: a stick table's top entries.
func tableCmd(stdout io.Writer, client func() *control.Client) *cobra.Command {
	cmd := &cobra.Command{Use: "table", Short: "stick tables (per-source counters)"}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "list a stick table's top entries (busiest first)",
		Long: `show lists the entries of the stick table NAME (a frontend or backend with a
stick_table), busiest first: by http_req_rate, else conn_cur, conn_rate,
http_err_rate. With a pair link the counters are this node's plus the
peer's (what the rules see); a value with a part from the peer is shown
as SUM(+PEER), e.g. 42(+30); --json has the peer's part under "peer".
conn_cur is always this node's own.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			max, _ := cmd.Flags().GetInt("top")
			asJSON, _ := cmd.Flags().GetBool("json")
			t, err := client().Table(cmd.Context(), args[0], max)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(t)
			}
			renderTable(stdout, t)
			return nil
		},
	}
	show.Flags().Int("top", 20, "entries to list (0: all, at most 10000)")
	show.Flags().Bool("json", false, "print JSON")
	cmd.AddCommand(show)
	return cmd
}

func renderTable(w io.Writer, t *control.TableShow) {
	fmt.Fprintf(w, "# table: %s, size: %d, used: %d, evictions: %d, untracked: %d", t.Name, t.Size, t.Used, t.Evictions, t.Untracked)
	if t.PeerSent > 0 || t.PeerReceived > 0 {
		fmt.Fprintf(w, ", peer sent: %d, peer received: %d", t.PeerSent, t.PeerReceived)
	}
	fmt.Fprintln(w)
	var names []string
	if len(t.Entries) > 0 {
		for n := range t.Entries[0].Counters {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var tb table
	hdr := append([]string{"KEY", "EXPIRE", "REFS"}, names...)
	tb.add(hdr...)
	for _, e := range t.Entries {
		row := []string{e.Key, fmt.Sprintf("%.1fs", float64(e.ExpireMS)/1000), strconv.Itoa(e.Refs)}
		for _, n := range names {
			v := strconv.FormatUint(e.Counters[n], 10)
			if p, ok := e.Peer[n]; ok && p > 0 {
				v += "(+" + strconv.FormatUint(p, 10) + ")"
			}
			row = append(row, v)
		}
		tb.add(row...)
	}
	tb.write(w, "", false)
}
