package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"
)

var showKeys = showList("kid", "alg", "state", "created_at", "retire_at")

func keysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage a tenant's signing keys"}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant name (required)")
	_ = cmd.MarkPersistentFlagRequired("tenant")
	list := &cobra.Command{
		Use: "list", Short: "List the published signing keys", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, http.MethodGet, tenantPath(tenant)+"/keys", nil, showKeys)
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate",
		Short: "Promote the published next key to signing, retire the current one after the longest token lifetime, publish a new next key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, http.MethodPost, tenantPath(tenant)+"/keys/rotate", nil, showKeys)
		},
	}
	cmd.AddCommand(list, rotate)
	return cmd
}

func deleted(what string) func(io.Writer, json.RawMessage) error {
	return func(w io.Writer, _ json.RawMessage) error {
		_, err := fmt.Fprintln(w, what+" deleted")
		return err
	}
}
