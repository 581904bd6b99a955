// Command lbctl is the console for a running lbd. See internal/cli.
package main

import (
	"os"

	"github.com/lbd-ha/lbd/internal/cli"
)

func main() {
	os.Exit(cli.LBCTL(os.Args[1:], os.Stdout, os.Stderr))
}
