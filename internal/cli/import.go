package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/lbd-ha/lbd/internal/importer"
)

// importCmd is `lbctl import haproxy HAPROXY.CFG [--keepalived FILE] [-o lbd.yaml]`.
// Exit codes: 0 everything mapped, 2 mapped with warnings (listed on stderr
// with file:line), 1 unreadable or invalid input.
func importCmd(stdout, stderr io.Writer) *cobra.Command {
	imp := &cobra.Command{Use: "import", Short: "convert haproxy.cfg and keepalived.conf into lbd.yaml"}
	hc := &cobra.Command{
		Use:   "haproxy HAPROXY.CFG",
		Short: "convert haproxy.cfg (and --keepalived keepalived.conf) into a commented lbd.yaml",
		Long: `Reads haproxy.cfg (and optionally keepalived.conf) and writes an lbd.yaml that
passes "lbd check". Every directive lbd does not map one to one is listed on
stderr with its file:line and what lbd does instead.
Exit status: 0 all mapped, 2 mapped with warnings, 1 unreadable input.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ka, _ := cmd.Flags().GetString("keepalived")
			out, _ := cmd.Flags().GetString("output")
			return runImport(args[0], ka, out, stdout, stderr)
		},
	}
	hc.Flags().String("keepalived", "", "keepalived.conf to import the VRRP instances from")
	hc.Flags().StringP("output", "o", "", "write lbd.yaml here instead of stdout")
	kc := &cobra.Command{
		Use:   "keepalived KEEPALIVED.CONF",
		Short: "convert only keepalived.conf's VRRP instances into lbd.yaml",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, _ := cmd.Flags().GetString("output")
			return runImport("", args[0], out, stdout, stderr)
		},
	}
	kc.Flags().StringP("output", "o", "", "write lbd.yaml here instead of stdout")
	imp.AddCommand(hc, kc)
	return imp
}

func runImport(haproxyPath, keepalivedPath, out string, stdout, stderr io.Writer) error {
	res, err := importer.Import(importer.Options{HAProxyPath: haproxyPath, KeepalivedPath: keepalivedPath})
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, w.String())
	}
	if out == "" {
		if _, err := stdout.Write(res.YAML); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	} else if err := os.WriteFile(out, res.YAML, 0o640); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if code := res.ExitCode(); code != 0 {
		return &ExitError{Code: code, Err: fmt.Errorf("imported with %d warning(s) listed above; review them before deploying", countWarnings(res))}
	}
	return nil
}

func countWarnings(r *importer.Result) int {
	n := 0
	for _, w := range r.Warnings {
		if w.Severity == importer.SeverityWarning {
			n++
		}
	}
	return n
}
