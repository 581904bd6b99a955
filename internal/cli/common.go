package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/lbd-ha/lbd/internal/build"
)

// ExitError carries a specific exit code (e.g. 2: imported with warnings).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// execute runs root with args and maps the result to an exit code; errors
// are printed once, prefixed with the program name.
func execute(root *cobra.Command, args []string, stderr io.Writer) int {
	root.SetArgs(args)
	root.SilenceUsage = true
	root.SilenceErrors = true
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", root.Name(), ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(stderr, "%s: %v\n", root.Name(), err)
	return 1
}

func versionCmd(prog string) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), build.String(prog))
			return nil
		},
	}
}

// manCmd writes man pages for the whole tree into DIR (used by packaging).
func manCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "write man pages into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", args[0], err)
			}
			hdr := &doc.GenManHeader{Title: root.Name(), Section: "8", Source: "lbd " + build.Version, Manual: "lbd manual"}
			if root.Name() == "lbctl" {
				hdr.Section = "1"
			}
			root.DisableAutoGenTag = true
			if err := doc.GenManTree(root, hdr, filepath.Clean(args[0])); err != nil {
				return fmt.Errorf("writing man pages: %w", err)
			}
			return nil
		},
	}
}
