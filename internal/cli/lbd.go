package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/cobra"

	"github.com/lbd-ha/lbd/internal/config"
	"github.com/lbd-ha/lbd/internal/daemon"
	"github.com/lbd-ha/lbd/internal/upgrade"
	"github.com/lbd-ha/lbd/sysctl"
)

// LBD runs the lbd command line and returns the exit code.
func LBD(args []string, stdout, stderr io.Writer) int {
	return execute(lbdRoot(stdout, stderr), args, stderr)
}

func lbdRoot(stdout, stderr io.Writer) *cobra.Command {
	var cfgPath string
	root := &cobra.Command{
		Use:   "lbd",
		Short: "lbd: HA load balancer daemon (VRRP floating VIP + HTTP/TCP proxy)",
		Long: `lbd is one daemon for a load-balancer node: a keepalived-compatible VRRP
instance that holds the floating VIP, an HAProxy-class HTTP/TCP proxy with
health checks, and the sysctl tuning both need. lbctl is its console.`,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVarP(&cfgPath, "config", "c", config.DefaultPath, "config file")

	run := &cobra.Command{
		Use:   "run",
		Short: "run the daemon in the foreground (SIGHUP reloads, SIGUSR2 upgrades the binary, SIGTERM stops)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			socket, _ := cmd.Flags().GetString("socket")
			return runDaemon(cfgPath, socket, stderr)
		},
	}
	run.Flags().String("socket", "", "control socket path (overrides global.control_socket)")

	check := &cobra.Command{
		Use:   "check",
		Short: "validate the config file: exit 0, or print every problem and exit 1",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return &ExitError{Code: 1}
			}
			for _, w := range cfg.Warnings {
				fmt.Fprintf(stderr, "warning: %s\n", w)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: OK (%d frontends, %d backends, %d VRRP instances)\n",
				cfgPath, len(cfg.Frontends), len(cfg.Backends), len(cfg.VRRP.Instances))
			return nil
		},
	}

	sys := &cobra.Command{
		Use:   "sysctl",
		Short: "apply the config's sysctl section and print what changed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			o := daemon.SysctlOptions(cfg)
			if o.ReadOnly {
				fmt.Fprintln(cmd.OutOrStdout(), "sysctl.apply is false: nothing written")
			}
			rs := sysctl.Apply(o, sysctl.NewState(), sysctl.ProcessRlimit{})
			fmt.Fprint(cmd.OutOrStdout(), sysctl.Format(rs))
			return nil
		},
	}
	root.AddCommand(run, check, sys, versionCmd("lbd"), manCmd(root))
	return root
}

// upgradeEnv is set by tableflip in a process started by a binary upgrade.
const upgradeEnv = "TABLEFLIP_HAS_PARENT_7DIU3"

// runDaemon is `lbd run`: signals in, exit status out.
func runDaemon(cfgPath, socket string, stderr io.Writer) error {
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// Binary upgrades (lbctl upgrade, SIGUSR2): this process may also be
	// the new one, started by the previous lbd with its listeners.
	upg, err := upgrade.New(upgrade.Options{})
	if err != nil {
		if os.Getenv(upgradeEnv) != "" {
			return err // started by an upgrade that cannot be completed
		}
		log.Warn("binary upgrade unavailable", "error", err)
		upg = nil
	}
	d, err := daemon.New(daemon.Options{
		ConfigPath: cfgPath,
		Logger:     log,
		SocketPath: socket,
		Notify: func(state string) {
			sddaemon.SdNotify(false, state)
		},
		Upgrader: upg,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP, syscall.SIGUSR2)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case sig := <-hup:
				if sig == syscall.SIGUSR2 {
					d.Upgrade(ctx, "SIGUSR2")
				} else {
					d.Reload(ctx, "SIGHUP")
				}
			}
		}
	}()
	return d.Run(ctx)
}
