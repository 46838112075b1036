package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-id/gatehouse/internal/adminapi"
	"github.com/gatehouse-id/gatehouse/internal/app"
)

var showApp = showFields("client_id", "client_secret", "client_secret_expires_at", "name", "type", "protocol", "grant_types", "redirect_uris", "scopes",
	"access_token_lifetime", "id_token_lifetime", "refresh_token_lifetime",
	"endpoints.issuer", "endpoints.discovery_url", "endpoints.authorization_endpoint", "endpoints.token_endpoint",
	"endpoints.userinfo_endpoint", "endpoints.jwks_uri", "endpoints.end_session_endpoint", "endpoints.certificate_pem_url",
	"endpoints.saml_metadata_url", "endpoints.saml_sso_url", "endpoints.saml_slo_url", "endpoints.saml_entity_id", "endpoints.saml_idp_init_url",
	"endpoints.wsfed_url", "endpoints.wsfed_metadata_url")

// appFlags are the settings an app command can set from flags.
type appFlags struct {
	file                                 string
	name, typ, protocol, description     string
	website, logo, info, tokenFormat     string
	redirects, postLogout, grants        []string
	scopes, audiences                    []string
	access, id, refresh                  time.Duration
	firstParty, forcePKCE, developerMode bool
}

func (f *appFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.file, "file", "", "JSON file with the app's settings (as in the API); flags override it. Needed for SAML and WS-Federation settings")
	fs.StringVar(&f.name, "name", "", "name: letters, digits and underscore, 1-64")
	fs.StringVar(&f.typ, "type", "", "spa, web, native or s2s")
	fs.StringVar(&f.protocol, "protocol", "", "oidc (default), saml or wsfed (web apps)")
	fs.StringVar(&f.description, "description", "", "description, at most 500 characters")
	fs.StringVar(&f.website, "website-url", "", "the app's website")
	fs.StringVar(&f.logo, "logo", "", "PNG file, at most 80 KB")
	fs.StringVar(&f.info, "additional-info", "", "additional information")
	fs.StringVar(&f.tokenFormat, "access-token-format", "", "jwt (default) or opaque")
	fs.StringArrayVar(&f.redirects, "redirect-uri", nil, "allowed redirect URI (repeatable)")
	fs.StringArrayVar(&f.postLogout, "post-logout-redirect-uri", nil, "allowed post-logout redirect URI (repeatable)")
	fs.StringArrayVar(&f.grants, "grant-type", nil, "grant type (repeatable; default: the type's standard grants)")
	fs.StringArrayVar(&f.scopes, "scope", nil, "custom scope the app may request (repeatable)")
	fs.StringArrayVar(&f.audiences, "audience", nil, "resource (aud) the app may request tokens for (repeatable)")
	fs.DurationVar(&f.access, "access-token-lifetime", 0, "1m-1440m (default 60m)")
	fs.DurationVar(&f.id, "id-token-lifetime", 0, "1m-1440m (default 60m)")
	fs.DurationVar(&f.refresh, "refresh-token-lifetime", 0, "whole days 24h-8760h, or 0 for no refresh tokens (default 720h)")
	fs.BoolVar(&f.firstParty, "first-party", false, "the app is under your control: no consent screen")
	fs.BoolVar(&f.forcePKCE, "force-pkce", false, "web apps: require PKCE")
	fs.BoolVar(&f.developerMode, "developer-mode", false, "allow the implicit flow (development only)")
}

// apply sets on a the fields whose flags were given (and the file's, first).
func (f *appFlags) apply(fs *pflag.FlagSet, a *app.App) error {
	if f.file != "" {
		b, err := os.ReadFile(f.file)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, a); err != nil {
			return fmt.Errorf("%s: %w", f.file, err)
		}
	}
	set := func(name string, fn func()) {
		if fs.Changed(name) {
			fn()
		}
	}
	set("name", func() { a.Name = f.name })
	set("type", func() { a.Type = app.Type(f.typ) })
	set("protocol", func() { a.Protocol = app.Protocol(f.protocol) })
	set("description", func() { a.Description = f.description })
	set("website-url", func() { a.WebsiteURL = f.website })
	set("additional-info", func() { a.AdditionalInfo = f.info })
	set("access-token-format", func() { a.AccessTokenFormat = f.tokenFormat })
	set("redirect-uri", func() { a.RedirectURIs = f.redirects })
	set("post-logout-redirect-uri", func() { a.PostLogoutRedirectURIs = f.postLogout })
	set("grant-type", func() { a.GrantTypes = f.grants })
	set("scope", func() { a.Scopes = f.scopes })
	set("audience", func() { a.Audiences = f.audiences })
	set("access-token-lifetime", func() { a.AccessTokenLifetime = app.Duration(f.access) })
	set("id-token-lifetime", func() { a.IDTokenLifetime = app.Duration(f.id) })
	set("refresh-token-lifetime", func() { a.RefreshTokenLifetime = app.Duration(f.refresh) })
	set("first-party", func() { a.FirstParty = f.firstParty })
	set("force-pkce", func() { a.ForcePKCE = f.forcePKCE })
	set("developer-mode", func() { a.DeveloperMode = f.developerMode })
	if fs.Changed("logo") {
		b, err := os.ReadFile(f.logo)
		if err != nil {
			return err
		}
		a.Logo = b
	}
	return nil
}

func appCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "app", Short: "Manage applications"}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant name (required)")
	_ = cmd.MarkPersistentFlagRequired("tenant")
	apps := func() string { return tenantPath(tenant) + "/apps" }
	one := func(id string) string { return apps() + "/" + url.PathEscape(id) }

	var cf appFlags
	var expires string
	create := &cobra.Command{
		Use: "create --type T --name N [flags]", Short: "Register an application; prints its client ID and, once, its secret", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in := adminapi.AppInput{App: app.App{RefreshTokenLifetime: -1}}
			if err := cf.apply(cmd.Flags(), &in.App); err != nil {
				return err
			}
			if expires != "" {
				t, err := time.Parse(time.RFC3339, expires)
				if err != nil {
					return fmt.Errorf("--secret-expires-at: want RFC 3339, like 2027-01-31T00:00:00Z")
				}
				in.SecretExpiresAt = &t
			}
			return g.call(cmd, http.MethodPost, apps(), in, showApp)
		},
	}
	cf.bind(create.Flags())
	create.Flags().StringVar(&expires, "secret-expires-at", "", "client secret expiry (RFC 3339; default never)")

	var uf appFlags
	update := &cobra.Command{
		Use: "update CLIENT_ID [flags]", Short: "Change an application's settings (flags not given keep their values)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(cmd.Context())
			if err != nil {
				return err
			}
			var cur app.App
			if err := c.Do(cmd.Context(), http.MethodGet, one(args[0]), nil, &cur); err != nil {
				return err
			}
			if err := uf.apply(cmd.Flags(), &cur); err != nil {
				return err
			}
			cur.CreatedAt, cur.UpdatedAt = time.Time{}, time.Time{}
			return g.call(cmd, http.MethodPut, one(args[0]), &cur, showApp)
		},
	}
	uf.bind(update.Flags())

	get := &cobra.Command{
		Use: "get CLIENT_ID", Short: "Show an application and its endpoints", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodGet, one(args[0]), nil, showApp)
		},
	}
	var cursor string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List applications", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, http.MethodGet, apps()+pageQuery(cursor, limit), nil, showList("client_id", "name", "type", "protocol"))
		},
	}
	pageFlags(list, &cursor, &limit)
	var confirm string
	del := &cobra.Command{
		Use: "delete CLIENT_ID --confirm NAME_OR_CLIENT_ID", Short: "Delete an application (irreversible; revokes what was issued to it)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if confirm == "" {
				return fmt.Errorf("deleting an application is irreversible: repeat its name or client ID with --confirm")
			}
			return g.call(cmd, http.MethodDelete, one(args[0])+"?confirm="+url.QueryEscape(confirm), nil, deleted("application "+args[0]))
		},
	}
	del.Flags().StringVar(&confirm, "confirm", "", "the app's name or client ID, typed again")
	export := exportCmd(g, "export CLIENT_ID", "Print the application as JSON for import (no client ID, no secret)", one)
	imp := importCmd(g, "Register an exported application with a new client ID and secret", "register under this name instead of the exported one",
		func() string { return apps() + "/import" }, showApp)
	cmd.AddCommand(create, update, get, list, del, export, imp, secretCmd(g, one))
	return cmd
}

// exportCmd prints an export document (always JSON: it is for import).
func exportCmd(g *globals, use, short string, one func(string) string) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			g.output = "json"
			return g.call(cmd, http.MethodGet, one(args[0])+"/export", nil, nil)
		},
	}
}

// importCmd posts an export document (a file, or - for standard input) to
// the import path, under --name when given.
func importCmd(g *globals, short, nameUsage string, path func() string, show func(io.Writer, json.RawMessage) error) *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use: "import FILE|-", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := readFileOrStdin(cmd, args[0])
			if err != nil {
				return err
			}
			var e json.RawMessage
			if err := json.Unmarshal(b, &e); err != nil {
				return fmt.Errorf("%s: not JSON: %w", args[0], err)
			}
			p := path()
			if name != "" {
				p += "?name=" + url.QueryEscape(name)
			}
			return g.call(cmd, http.MethodPost, p, e, show)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", nameUsage)
	return cmd
}

func secretCmd(g *globals, one func(string) string) *cobra.Command {
	cmd := &cobra.Command{Use: "secret", Short: "Manage an application's client secret"}
	var in adminapi.RotateInput
	var grace time.Duration
	var expires string
	rotate := &cobra.Command{
		Use: "rotate CLIENT_ID", Short: "Issue a new client secret (shown once); the old one stays valid for --grace", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.GracePeriod = app.Duration(grace)
			if expires != "" {
				t, err := time.Parse(time.RFC3339, expires)
				if err != nil {
					return fmt.Errorf("--expires-at: want RFC 3339, like 2027-01-31T00:00:00Z")
				}
				in.ExpiresAt = &t
			}
			return g.call(cmd, http.MethodPost, one(args[0])+"/secret", in, showFields("client_id", "client_secret", "client_secret_expires_at"))
		},
	}
	rotate.Flags().DurationVar(&grace, "grace", 0, "how long the previous secret stays valid (default: it stops at once)")
	rotate.Flags().StringVar(&expires, "expires-at", "", "new secret's expiry (RFC 3339; default never)")
	cmd.AddCommand(rotate)
	return cmd
}
