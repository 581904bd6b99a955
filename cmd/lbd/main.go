// Command lbd is the load-balancer daemon. See internal/cli for the commands.
package main

import (
	"os"

	"github.com/lbd-ha/lbd/internal/cli"
)

func main() {
	os.Exit(cli.LBD(os.Args[1:], os.Stdout, os.Stderr))
}
