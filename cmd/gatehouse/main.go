// Command gatehouse is the Gatehouse identity platform: the server and its
// command-line admin client in one binary.
package main

import (
	"context"
	"os"

	"github.com/gatehouse-id/gatehouse/internal/cli"
)

func main() {
	os.Exit(cli.Run(context.Background(), os.Args[1:], cli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
	}))
}
