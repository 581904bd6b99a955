package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/control"
	"github.com/lbd-ha/lbd/internal/pair"
)

// pairCmd is `lbctl pair`: set up the pair link's identities. These
// commands work on the files in the state directory, with or without a
// running lbd; a running lbd picks a new pin up within one interval.
func pairCmd(stdout io.Writer) *cobra.Command {
	var cfgPath, stateDir, address string
	cmd := &cobra.Command{
		Use:   "pair",
		Short: "pair this node with the other lbd node: init, join, show",
		Long: `The pair link is mutual TLS between the two nodes; each node's identity is
a self-signed certificate whose fingerprint the other node pins. Setup, once:

  node 1:  lbctl pair init              (prints a one-line token)
  node 2:  lbctl pair join TOKEN1       (pins node 1, prints its own token)
  node 1:  lbctl pair join TOKEN2       (pins node 2)

Both lbd.yaml files need a pair section (pair.listen: this node's HOST:PORT).
See docs/pair.md.`,
	}
	cmd.PersistentFlags().StringVar(&cfgPath, "config", config.DefaultPath, "lbd config file (for pair.listen and pair.state_dir)")
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", "", "lbd state directory (default: pair.state_dir, else "+config.DefaultPairStateDir+")")
	cmd.PersistentFlags().StringVar(&address, "address", "", "this node's pair HOST:PORT for the token (default: pair.listen)")

	// settings resolves the pair directory and this node's token address.
	settings := func(needAddr bool) (dir, addr string, err error) {
		var p *config.Pair
		cfg, cerr := config.Load(cfgPath)
		if cerr == nil {
			p = cfg.Pair
		}
		dir = stateDir
		if dir == "" && p != nil {
			dir = p.StateDir
		}
		if dir == "" {
			dir = config.DefaultPairStateDir
		}
		addr = address
		if addr == "" && p != nil {
			addr = p.Listen
		}
		if needAddr {
			if addr == "" {
				if cerr != nil {
					return "", "", fmt.Errorf("cannot read pair.listen from %s (%v): give --address HOST:PORT", cfgPath, firstLine(cerr.Error()))
				}
				return "", "", fmt.Errorf("%s has no pair section: add `pair: {listen: HOST:PORT}` (docs/pair.md) or give --address", cfgPath)
			}
			if err := pair.CheckAddress(addr); err != nil {
				return "", "", fmt.Errorf("%w: give --address with this node's reachable HOST:PORT", err)
			}
		}
		return pair.Dir(dir), addr, nil
	}
	identity := func(dir string, fresh bool) (*pair.Identity, bool, error) {
		if fresh {
			if err := pair.RemoveIdentity(dir); err != nil {
				return nil, false, err
			}
		}
		host, _ := os.Hostname()
		id, created, err := pair.LoadOrCreateIdentity(dir, host)
		if err != nil {
			return nil, false, err
		}
		return id, created, pair.ChownTo(dir)
	}

	var fresh bool
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "create this node's pair identity (if none) and print its join token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, addr, err := settings(true)
			if err != nil {
				return err
			}
			id, created, err := identity(dir, fresh)
			if err != nil {
				return err
			}
			if created {
				fmt.Fprintf(cmd.ErrOrStderr(), "created this node's pair identity in %s\n", dir)
			}
			fmt.Fprintln(stdout, pair.Token(id.Fingerprint, addr))
			fmt.Fprintln(cmd.ErrOrStderr(), "on the other node run: lbctl pair join <the line above>")
			return nil
		},
	}
	initCmd.Flags().BoolVar(&fresh, "new", false, "replace this node's identity with a new one (the peer must join again; then restart lbd)")

	var force bool
	join := &cobra.Command{
		Use:   "join TOKEN",
		Short: "pin the other node (its token from `lbctl pair init`) and print this node's token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fp, peerAddr, err := pair.ParseToken(args[0])
			if err != nil {
				return err
			}
			dir, addr, err := settings(true)
			if err != nil {
				return err
			}
			id, _, err := identity(dir, false)
			if err != nil {
				return err
			}
			if fp == id.Fingerprint {
				return errors.New("that token is this node's own: run join with the OTHER node's token")
			}
			old, err := pair.LoadPin(dir)
			if err != nil && !force {
				return fmt.Errorf("%w (--force replaces it)", err)
			}
			if old != nil && old.Fingerprint != fp && !force {
				return fmt.Errorf("this node already pins peer %s at %s: --force replaces it", old.Fingerprint, old.Address)
			}
			if err := pair.SavePin(dir, pair.Pin{Fingerprint: fp, Address: peerAddr, PinnedAt: time.Now().UTC()}); err != nil {
				return err
			}
			if err := pair.ChownTo(dir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "pinned peer %s at %s\n", fp, peerAddr)
			if old != nil && old.Fingerprint == fp {
				fmt.Fprintln(cmd.ErrOrStderr(), "(already paired with it; address updated)")
			}
			fmt.Fprintln(stdout, pair.Token(id.Fingerprint, addr))
			fmt.Fprintln(cmd.ErrOrStderr(), "if the other node has not pinned this one yet, run there: lbctl pair join <the line above>")
			return nil
		},
	}
	join.Flags().BoolVar(&force, "force", false, "replace a different pinned peer")

	show := &cobra.Command{
		Use:   "show",
		Short: "print this node's token and the pinned peer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, addr, err := settings(false)
			if err != nil {
				return err
			}
			id, err := pair.LoadIdentity(dir)
			if err != nil {
				return err
			}
			if addr == "" || pair.CheckAddress(addr) != nil {
				fmt.Fprintf(stdout, "this node:   %s (give --address for a token)\n", id.Fingerprint)
			} else {
				fmt.Fprintf(stdout, "this node:   %s\n", pair.Token(id.Fingerprint, addr))
			}
			p, err := pair.LoadPin(dir)
			if err != nil {
				return err
			}
			if p == nil {
				fmt.Fprintln(stdout, "peer:        none pinned (lbctl pair join TOKEN)")
				return nil
			}
			fmt.Fprintf(stdout, "peer:        %s at %s (pinned %s)\n", p.Fingerprint, p.Address, p.PinnedAt.Format(time.RFC3339))
			return nil
		},
	}
	cmd.AddCommand(initCmd, join, show)
	return cmd
}

// printServerChange prints what each node did with a server change; an
// lbd without a pair (or an older one) answers without nodes.
func printServerChange(w io.Writer, name, what string, res *control.ServerChangeResult) {
	if res == nil || len(res.Nodes) <= 1 {
		fmt.Fprintf(w, "%s: %s\n", name, what)
		return
	}
	for i, n := range res.Nodes {
		who := role(i) + " " + n.Node
		if n.Node == "" || n.Node == role(i) {
			who = role(i)
		}
		fmt.Fprintf(w, "%s: %s %s\n", who, name, n.Result)
	}
}
