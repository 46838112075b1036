// Package cli is the gatehouse command (R-ADM-2, R-RUN-1): `serve` and
// `migrate` run the server side; every other command is a client of the
// admin API, with `-o json` output and a non-zero exit plus a one-line reason
// on any error.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/internal/adminapi"
	"github.com/gatehouse-id/gatehouse/internal/config"
	"github.com/gatehouse-id/gatehouse/internal/text"
)

// Env is what a command run sees of the process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

type globals struct {
	env          Env
	server       string
	clientID     string
	clientSecret string
	dataDir      string
	output       string
}

// Run executes the command line args and returns the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	g := &globals{env: env}
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "Gatehouse: OAuth 2.0 / OpenID Connect, SAML and WS-Federation identity platform",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", "", "admin API server URL (env GATEHOUSE_SERVER; default: from {data-dir}/admin.json)")
	pf.StringVar(&g.clientID, "client-id", "", "admin client ID (env GATEHOUSE_CLIENT_ID; default: from admin.json)")
	pf.StringVar(&g.clientSecret, "client-secret", "", "admin client secret (prefer env GATEHOUSE_CLIENT_SECRET: flags show in the process list)")
	pf.StringVarP(&g.output, "output", "o", "text", "output format: text or json")
	pf.StringVar(&g.dataDir, "data-dir", config.Default().DataDir, config.DataDirUsage+" (env GATEHOUSE_DATA_DIR)")
	root.AddCommand(serveCmd(g), migrateCmd(g), bffCmd(g), tenantCmd(g), appCmd(g), permissionCmd(g), keysCmd(g), userCmd(g), roleCmd(g), integrationCmd(g), auditCmd(g))
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if g.output != "text" && g.output != "json" {
			return fmt.Errorf("--output must be text or json")
		}
		if v := env.Getenv("GATEHOUSE_DATA_DIR"); v != "" && !cmd.Flags().Changed("data-dir") {
			g.dataDir = v
		}
		return nil
	}
	if err := root.ExecuteContext(ctx); err != nil {
		msg := text.Escape(strings.ReplaceAll(err.Error(), "\n", "; "))
		fmt.Fprintln(env.Stderr, "gatehouse: "+msg)
		return 1
	}
	return 0
}

// client finds the server and credentials: flags, then GATEHOUSE_SERVER /
// GATEHOUSE_CLIENT_ID / GATEHOUSE_CLIENT_SECRET, then {data-dir}/admin.json.
func (g *globals) client(ctx context.Context) (*adminapi.Client, error) {
	c := adminapi.Credentials{Server: g.server, ClientID: g.clientID, ClientSecret: g.clientSecret}
	pick := func(dst *string, env string) {
		if *dst == "" {
			*dst = g.env.Getenv(env)
		}
	}
	pick(&c.Server, "GATEHOUSE_SERVER")
	pick(&c.ClientID, "GATEHOUSE_CLIENT_ID")
	pick(&c.ClientSecret, "GATEHOUSE_CLIENT_SECRET")
	if c.Server == "" || c.ClientID == "" || c.ClientSecret == "" {
		path := filepath.Join(g.dataDir, "admin.json")
		b, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("no admin credentials: give --server, --client-id and GATEHOUSE_CLIENT_SECRET, or --data-dir with an admin.json (%s does not exist)", path)
			}
			return nil, err
		}
		var f adminapi.Credentials
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		pick2 := func(dst *string, v string) {
			if *dst == "" {
				*dst = v
			}
		}
		pick2(&c.Server, f.Server)
		pick2(&c.ClientID, f.ClientID)
		pick2(&c.ClientSecret, f.ClientSecret)
		if c.TokenURL == "" && c.Server == f.Server {
			c.TokenURL = f.TokenURL
		}
	}
	if c.Server == "" || c.ClientID == "" || c.ClientSecret == "" {
		return nil, errors.New("incomplete admin credentials: need server, client ID and client secret")
	}
	return adminapi.NewClient(ctx, c), nil
}

// call runs one admin API request and prints the result: the raw JSON with
// -o json, or text made by show.
func (g *globals) call(cmd *cobra.Command, method, path string, in any, show func(w io.Writer, raw json.RawMessage) error) error {
	c, err := g.client(cmd.Context())
	if err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.Do(cmd.Context(), method, path, in, &raw); err != nil {
		return err
	}
	return g.show(cmd, raw, show)
}

// print prints v, a result made here rather than by the admin API, as
// call prints an answer.
func (g *globals) print(cmd *cobra.Command, v any, show func(w io.Writer, raw json.RawMessage) error) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return g.show(cmd, raw, show)
}

// show prints raw JSON: as is with -o json, else as text made by show.
func (g *globals) show(cmd *cobra.Command, raw json.RawMessage, show func(w io.Writer, raw json.RawMessage) error) error {
	out := cmd.OutOrStdout()
	if g.output == "json" {
		if len(raw) == 0 {
			raw = json.RawMessage("{}")
		}
		_, err := fmt.Fprintln(out, strings.TrimSpace(string(raw)))
		return err
	}
	if show == nil {
		return nil
	}
	raw, err := visible(raw)
	if err != nil {
		return err
	}
	return show(out, raw)
}
