package cli

import (
	"io"
	"net/http"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/internal/app"
)

var showPermission = showFields("name", "description", "updated_at")

func permissionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "permission", Short: "Manage an application's permissions"}
	var tenant, clientID string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant name (required)")
	cmd.PersistentFlags().StringVar(&clientID, "app", "", "the application's client ID (required)")
	_ = cmd.MarkPersistentFlagRequired("tenant")
	_ = cmd.MarkPersistentFlagRequired("app")
	base := func() string { return tenantPath(tenant) + "/apps/" + url.PathEscape(clientID) + "/permissions" }

	var desc string
	create := &cobra.Command{
		Use: "create NAME [--description D]", Short: "Add a permission", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodPost, base(), app.Permission{Name: args[0], Description: desc}, showPermission)
		},
	}
	create.Flags().StringVar(&desc, "description", "", "description, at most 120 characters")
	list := &cobra.Command{
		Use: "list", Short: "List permissions, last modified first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, http.MethodGet, base(), nil, showList("name", "description", "updated_at"))
		},
	}
	get := &cobra.Command{
		Use: "get NAME", Short: "Show a permission", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodGet, base()+"/"+url.PathEscape(args[0]), nil, showPermission)
		},
	}
	var newName, newDesc string
	update := &cobra.Command{
		Use: "update NAME [--name NEW] [--description D]", Short: "Rename or re-describe a permission", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := map[string]string{"name": args[0]}
			if cmd.Flags().Changed("name") {
				in["name"] = newName
			}
			if cmd.Flags().Changed("description") {
				in["description"] = newDesc
			} else {
				c, err := g.client(cmd.Context())
				if err != nil {
					return err
				}
				var cur app.Permission
				if err := c.Do(cmd.Context(), http.MethodGet, base()+"/"+url.PathEscape(args[0]), nil, &cur); err != nil {
					return err
				}
				in["description"] = cur.Description
			}
			return g.call(cmd, http.MethodPatch, base()+"/"+url.PathEscape(args[0]), in, showPermission)
		},
	}
	update.Flags().StringVar(&newName, "name", "", "new name")
	update.Flags().StringVar(&newDesc, "description", "", "new description")
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a permission", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodDelete, base()+"/"+url.PathEscape(args[0]), nil, deleted("permission "+args[0]))
		},
	}
	cmd.AddCommand(create, list, get, update, del)
	return cmd
}

func readAll(r io.Reader) ([]byte, error) { return io.ReadAll(io.LimitReader(r, 8<<20)) }

// readFileOrStdin reads the file at path, or the command's input for "-".
func readFileOrStdin(cmd *cobra.Command, path string) ([]byte, error) {
	if path == "-" {
		return readAll(cmd.InOrStdin())
	}
	return os.ReadFile(path)
}
