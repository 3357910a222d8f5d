// Command vault builds the Vault server that the tests and the demo run.
// It is Vault's own command package behind a main function, pinned by go.mod.
package main

import (
	"os"

	"github.com/hashicorp/vault/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
