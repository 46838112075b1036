package cli

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/internal/adminapi"
)

var showTenant = showFields("name", "display_name", "signing_alg", "consent_policy", "issuer", "discovery_url", "created_at")

const consentPolicyHelp = "how long a user's consent to a third-party app holds: remember (until revoked, the default) or session (asked again in every new SSO session)"

func tenantCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Manage tenants"}

	var in adminapi.TenantInput
	create := &cobra.Command{
		Use: "create NAME", Short: "Create a tenant with its signing keys", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Name = args[0]
			return g.call(cmd, http.MethodPost, "/admin/v1/tenants", in, showTenant)
		},
	}
	create.Flags().StringVar(&in.DisplayName, "display-name", "", "display name (default: the name)")
	create.Flags().StringVar(&in.SigningAlg, "signing-alg", "", "token signing algorithm: RS256 (default), ES256 or EdDSA")
	create.Flags().StringVar(&in.ConsentPolicy, "consent-policy", "", consentPolicyHelp)

	var up adminapi.TenantInput
	update := &cobra.Command{
		Use: "update NAME", Short: "Change a tenant's display name, signing algorithm or consent policy", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodPatch, tenantPath(args[0]), up, showTenant)
		},
	}
	update.Flags().StringVar(&up.DisplayName, "display-name", "", "new display name")
	update.Flags().StringVar(&up.SigningAlg, "signing-alg", "", "algorithm of keys made by future rotations: RS256, ES256 or EdDSA")
	update.Flags().StringVar(&up.ConsentPolicy, "consent-policy", "", consentPolicyHelp)

	get := &cobra.Command{
		Use: "get NAME", Short: "Show a tenant", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodGet, tenantPath(args[0]), nil, showTenant)
		},
	}
	var cursor string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List tenants", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, http.MethodGet, "/admin/v1/tenants"+pageQuery(cursor, limit), nil, showList("name", "display_name", "signing_alg", "issuer"))
		},
	}
	pageFlags(list, &cursor, &limit)
	var confirm string
	del := &cobra.Command{
		Use: "delete NAME --confirm NAME", Short: "Delete a tenant and everything it owns", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if confirm != args[0] {
				return fmt.Errorf("deleting tenant %q removes everything it owns: repeat its name with --confirm %s", args[0], args[0])
			}
			return g.call(cmd, http.MethodDelete, tenantPath(args[0])+"?confirm="+url.QueryEscape(confirm), nil, deleted("tenant "+args[0]))
		},
	}
	del.Flags().StringVar(&confirm, "confirm", "", "the tenant's name, typed again")
	cmd.AddCommand(create, update, get, list, del, themeCmd(g))
	return cmd
}

func tenantPath(name string) string { return "/admin/v1/tenants/" + url.PathEscape(name) }

func pageFlags(cmd *cobra.Command, cursor *string, limit *int) {
	cmd.Flags().StringVar(cursor, "cursor", "", "continue a list after this cursor")
	cmd.Flags().IntVar(limit, "limit", 0, "items per page (1-500, default 100)")
}

func pageQuery(cursor string, limit int) string {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if limit > 0 {
		q.Set("limit", fmt.Sprint(limit))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}
