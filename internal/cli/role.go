package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-id/gatehouse/internal/adminapi"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// grantsText writes grants as "CLIENT_ID:PERMISSION" joined by sep.
func grantsText(gs []user.Grant, sep string) string {
	parts := make([]string, len(gs))
	for i, g := range gs {
		parts[i] = g.ClientID + ":" + g.Permission
	}
	return strings.Join(parts, sep)
}

func showRole(w io.Writer, raw json.RawMessage) error {
	var r user.Role
	if err := json.Unmarshal(raw, &r); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "name:\t%s\n", r.Name)
	if r.Description != "" {
		fmt.Fprintf(tw, "description:\t%s\n", r.Description)
	}
	fmt.Fprintf(tw, "permissions:\t%s\n", grantsText(r.Permissions, ", "))
	fmt.Fprintf(tw, "updated_at:\t%s\n", r.UpdatedAt.Format(time.RFC3339))
	return tw.Flush()
}

func showRoles(w io.Writer, raw json.RawMessage) error {
	var l adminapi.List[user.Role]
	if err := json.Unmarshal(raw, &l); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDESCRIPTION\tPERMISSIONS")
	for _, r := range l.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Description, grantsText(r.Permissions, ","))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if l.NextCursor != "" {
		fmt.Fprintf(w, "more: --cursor %s\n", l.NextCursor)
	}
	return nil
}

// parseGrants reads --permission CLIENT_ID:PERMISSION values.
func parseGrants(vals []string) ([]user.Grant, error) {
	out := []user.Grant{}
	for _, v := range vals {
		cid, perm, ok := strings.Cut(v, ":")
		if !ok || cid == "" || perm == "" {
			return nil, fmt.Errorf("--permission %q: want CLIENT_ID:PERMISSION", v)
		}
		out = append(out, user.Grant{ClientID: cid, Permission: perm})
	}
	return out, nil
}

func roleFlags(fs *pflag.FlagSet, desc *string, perms *[]string) {
	fs.StringVar(desc, "description", "", "description, at most 200 characters")
	fs.StringArrayVar(perms, "permission", nil, "a permission of an app, as CLIENT_ID:PERMISSION (repeatable)")
}

func roleCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "Manage roles: bundles of app permissions assigned to users"}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant name (required)")
	_ = cmd.MarkPersistentFlagRequired("tenant")
	roles := func() string { return tenantPath(tenant) + "/roles" }
	one := func(name string) string { return roles() + "/" + url.PathEscape(name) }

	var desc string
	var perms []string
	create := &cobra.Command{
		Use: "create NAME [--description D] [--permission CLIENT_ID:PERMISSION]...", Short: "Create a role", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			gs, err := parseGrants(perms)
			if err != nil {
				return err
			}
			return g.call(cmd, http.MethodPost, roles(), adminapi.RoleInput{Name: args[0], Description: desc, Permissions: gs}, showRole)
		},
	}
	roleFlags(create.Flags(), &desc, &perms)

	get := &cobra.Command{
		Use: "get NAME", Short: "Show a role and its permissions", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodGet, one(args[0]), nil, showRole)
		},
	}
	var cursor string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List roles by name", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, http.MethodGet, roles()+pageQuery(cursor, limit), nil, showRoles)
		},
	}
	pageFlags(list, &cursor, &limit)

	var newName, newDesc string
	var newPerms []string
	var clearPerms bool
	update := &cobra.Command{
		Use:   "update NAME [--name NEW] [--description D] [--permission CLIENT_ID:PERMISSION]... [--clear-permissions]",
		Short: "Rename a role or change its description or permissions (flags not given keep their values; --permission replaces the list)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			if fs.Changed("permission") && clearPerms {
				return fmt.Errorf("--permission and --clear-permissions exclude each other")
			}
			c, err := g.client(cmd.Context())
			if err != nil {
				return err
			}
			var cur user.Role
			if err := c.Do(cmd.Context(), http.MethodGet, one(args[0]), nil, &cur); err != nil {
				return err
			}
			in := adminapi.RoleInput{Name: cur.Name, Description: cur.Description, Permissions: cur.Permissions}
			if fs.Changed("name") {
				in.Name = newName
			}
			if fs.Changed("description") {
				in.Description = newDesc
			}
			if fs.Changed("permission") {
				if in.Permissions, err = parseGrants(newPerms); err != nil {
					return err
				}
			}
			if clearPerms {
				in.Permissions = []user.Grant{}
			}
			return g.call(cmd, http.MethodPut, one(args[0]), in, showRole)
		},
	}
	update.Flags().StringVar(&newName, "name", "", "new name")
	roleFlags(update.Flags(), &newDesc, &newPerms)
	update.Flags().BoolVar(&clearPerms, "clear-permissions", false, "remove every permission from the role")

	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete a role; its users lose it", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodDelete, one(args[0]), nil, deleted("role "+args[0]))
		},
	}
	cmd.AddCommand(create, get, list, update, del)
	return cmd
}
