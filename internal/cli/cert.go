package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lbd-ha/lbd/internal/control"
)

// certCmd is `lbctl cert list`: the certificates the TLS binds serve.
func certCmd(client func() *control.Client, stdout io.Writer) *cobra.Command {
	cert := &cobra.Command{Use: "cert", Short: "TLS certificates: list what the TLS binds serve"}
	list := &cobra.Command{
		Use:   "list",
		Short: "list each certificate's names, issuer, expiry (days left) and file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := client().Certs(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(cs)
			}
			renderCerts(stdout, cs, useColour(stdout))
			return nil
		},
	}
	list.Flags().Bool("json", false, "print the list as JSON")
	cert.AddCommand(list)
	return cert
}

func renderCerts(w io.Writer, cs []control.CertStatus, colour bool) {
	if len(cs) == 0 {
		fmt.Fprintln(w, "no TLS bind configured")
		return
	}
	// The ACME column shows only when tls.acme manages a listed file.
	withACME := false
	for _, c := range cs {
		withACME = withACME || c.ACME != ""
	}
	t := &table{}
	head := []string{"FRONTEND", "BIND", "NAMES", "ISSUER", "NOT AFTER", "DAYS", "KEY", "DEFAULT", "FILE"}
	if withACME {
		head = append(head, "ACME")
	}
	t.add(head...)
	for _, c := range cs {
		code := ""
		if c.DaysLeft < control.CertExpiryWarnDays {
			code = red
		}
		def := ""
		if c.Default {
			def = "*"
		}
		row := []string{c.Frontend, c.Bind, shorten(strings.Join(c.Names, ","), 40), shorten(c.Issuer, 30),
			c.NotAfter.UTC().Format(time.RFC3339), strconv.Itoa(c.DaysLeft), c.KeyType, def, c.File}
		codes := []string{"", "", "", "", "", code, "", "", ""}
		if withACME {
			row = append(row, certACMEState(c))
			if c.ACME == "failing" {
				codes = append(codes, red)
			}
		}
		t.addc(codes, row...)
	}
	t.write(w, "", colour)
}

// certACMEState is the ACME column: the state, and for a failing renewal
// since when and its last error.
func certACMEState(c control.CertStatus) string {
	if c.ACME != "failing" {
		return c.ACME
	}
	s := "failing"
	if !c.ACMEFailingSince.IsZero() {
		s += " since " + c.ACMEFailingSince.UTC().Format(time.RFC3339)
	}
	if c.ACMELastError != "" {
		s += ": " + shorten(c.ACMELastError, 60)
	}
	return s
}

// renderCertWarnings prints lbctl status's warning for certificates that
// expire within control.CertExpiryWarnDays days (or have expired).
func renderCertWarnings(w io.Writer, cs []control.CertStatus, colour bool) {
	seen := map[string]bool{}
	for _, c := range cs {
		if c.DaysLeft >= control.CertExpiryWarnDays || seen[c.File] {
			continue
		}
		seen[c.File] = true
		msg := fmt.Sprintf("expires in %d days (%s)", c.DaysLeft, c.NotAfter.UTC().Format("2006-01-02"))
		if c.DaysLeft < 0 {
			msg = fmt.Sprintf("EXPIRED %d days ago (%s)", -c.DaysLeft, c.NotAfter.UTC().Format("2006-01-02"))
		}
		line := fmt.Sprintf("  WARNING certificate %s (%s): %s", c.File, strings.Join(c.Names, ","), msg)
		if colour {
			line = red + line + "\x1b[0m"
		}
		fmt.Fprintln(w, line)
	}
}

func shorten(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-3]) + "..."
}
