package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-id/gatehouse/internal/integration"
)

var showIntegration = showFields("name", "base_url", "on_premises", "accept_unverified_tls", "icon", "service_auth.method",
	"service_auth.grant_type", "service_auth.secrets_set", "service_action_auth.method", "rate_limit.requests", "rate_limit.per",
	"rate_limit.policy", "call_url", "scopes", "warnings")

// integrationFlags are the settings an integration command can set from
// flags (the service-action authentication only through --file).
type integrationFlags struct {
	file, name, baseURL, icon                 string
	onPrem, insecure, developer               bool
	method, username, password, domain        string
	token, prefix, keyIn, keyName, key        string
	grant, scope, clientID, clientSecret      string
	authURL, tokenURL, refreshURL, headerPref string
	secretFile, rate, ratePolicy, testPath    string
	tokenParams                               []string
	rateWait                                  time.Duration
}

func (f *integrationFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.file, "file", "", "JSON file with the integration (as in the API); flags override it")
	fs.StringVar(&f.name, "name", "", "name: a-z, 0-9 and '-', 1-63")
	fs.StringVar(&f.baseURL, "base-url", "", "the system's base URL (https; http only off-premises, with a warning)")
	fs.StringVar(&f.icon, "icon", "", "ID of one of the tenant's icons (gatehouse integration icon list)")
	fs.BoolVar(&f.onPrem, "on-premises", false, "the system runs on premises (https only)")
	fs.BoolVar(&f.insecure, "accept-unverified-tls", false, "on-premises only: accept unverified TLS certificates")
	fs.BoolVar(&f.developer, "developer-mode", false, "allow the implicit grant for service actions")
	fs.StringVar(&f.method, "auth", "", "service authentication: none, basic, ntlm, bearer, api_key or oauth2")
	fs.StringVar(&f.username, "username", "", "basic, ntlm, oauth2 password grant: user name")
	fs.StringVar(&f.password, "password", "", "basic, ntlm, oauth2 password grant: password (better: --secret-file)")
	fs.StringVar(&f.domain, "domain", "", "ntlm: the Windows domain")
	fs.StringVar(&f.token, "token", "", "bearer: the token (better: --secret-file)")
	fs.StringVar(&f.prefix, "prefix", "", "bearer: the Authorization scheme (default Bearer)")
	fs.StringVar(&f.keyIn, "key-in", "", "api_key: header or query")
	fs.StringVar(&f.keyName, "key-name", "", "api_key: the header or query parameter, such as X-API-Key")
	fs.StringVar(&f.key, "key", "", "api_key: the key (better: --secret-file)")
	fs.StringVar(&f.grant, "grant-type", "", "oauth2: client_credentials, password or authorization_code")
	fs.StringVar(&f.scope, "oauth-scope", "", "oauth2: the scope to ask for")
	fs.StringVar(&f.clientID, "client-id", "", "oauth2: client ID at the system's authorization server")
	fs.StringVar(&f.clientSecret, "client-secret", "", "oauth2: client secret (better: --secret-file)")
	fs.StringVar(&f.authURL, "authorization-url", "", "oauth2: authorization endpoint (authorization_code)")
	fs.StringVar(&f.tokenURL, "token-url", "", "oauth2: token endpoint")
	fs.StringVar(&f.refreshURL, "refresh-url", "", "oauth2: refresh endpoint (default the token URL)")
	fs.StringVar(&f.headerPref, "header-prefix", "", "oauth2: the Authorization scheme of the access token (default Bearer)")
	fs.StringArrayVar(&f.tokenParams, "token-param", nil, "oauth2: extra token request parameter NAME=VALUE (repeatable)")
	fs.StringVar(&f.secretFile, "secret-file", "", "file holding the method's secret (password, token, key or client secret)")
	fs.StringVar(&f.rate, "rate-limit", "", "N/second or N/minute, across every replica; \"off\" removes it")
	fs.StringVar(&f.ratePolicy, "rate-policy", "", "over the limit: reject (429, default) or wait")
	fs.DurationVar(&f.rateWait, "rate-max-wait", 0, "wait policy: the longest wait (default 5s, at most 30s)")
	fs.StringVar(&f.testPath, "test-path", "", "the path below the base URL that test connection GETs")
}

// apply sets on i the fields whose flags were given (and the file's, first).
func (f *integrationFlags) apply(fs *pflag.FlagSet, i *integration.Integration) error {
	if f.file != "" {
		b, err := os.ReadFile(f.file)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, i); err != nil {
			return fmt.Errorf("%s: %w", f.file, err)
		}
	}
	a := &i.ServiceAuth
	set := func(name string, fn func()) {
		if fs.Changed(name) {
			fn()
		}
	}
	set("name", func() { i.Name = f.name })
	set("base-url", func() { i.BaseURL = f.baseURL })
	set("icon", func() { i.Icon = f.icon })
	set("on-premises", func() { i.OnPremises = f.onPrem })
	set("accept-unverified-tls", func() { i.AcceptUnverifiedTLS = f.insecure })
	set("developer-mode", func() { i.DeveloperMode = f.developer })
	set("auth", func() { a.Method = f.method })
	set("username", func() { a.Username = f.username })
	set("password", func() { a.Password = f.password })
	set("domain", func() { a.Domain = f.domain })
	set("token", func() { a.Token = f.token })
	set("prefix", func() { a.Prefix = f.prefix })
	set("key-in", func() { a.In = f.keyIn })
	set("key-name", func() { a.Name = f.keyName })
	set("key", func() { a.Key = f.key })
	set("grant-type", func() { a.GrantType = f.grant })
	set("oauth-scope", func() { a.Scope = f.scope })
	set("client-id", func() { a.ClientID = f.clientID })
	set("client-secret", func() { a.ClientSecret = f.clientSecret })
	set("authorization-url", func() { a.AuthorizationURL = f.authURL })
	set("token-url", func() { a.TokenURL = f.tokenURL })
	set("refresh-url", func() { a.RefreshURL = f.refreshURL })
	set("header-prefix", func() { a.HeaderPrefix = f.headerPref })
	if fs.Changed("token-param") {
		a.TokenParams = map[string]string{}
		for _, p := range f.tokenParams {
			k, v, ok := strings.Cut(p, "=")
			if !ok || k == "" {
				return fmt.Errorf("--token-param %q: want NAME=VALUE", p)
			}
			a.TokenParams[k] = v
		}
	}
	if f.secretFile != "" {
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return err
		}
		s := strings.TrimRight(string(b), "\r\n")
		switch a.Method {
		case integration.MethodBasic, integration.MethodNTLM:
			a.Password = s
		case integration.MethodBearer:
			a.Token = s
		case integration.MethodAPIKey:
			a.Key = s
		case integration.MethodOAuth2:
			if a.GrantType == integration.GrantPassword {
				a.Password = s
			} else {
				a.ClientSecret = s
			}
		default:
			return fmt.Errorf("--secret-file: method %q has no secret", a.Method)
		}
	}
	if err := f.applyRate(fs, i); err != nil {
		return err
	}
	if fs.Changed("test-path") {
		i.Test = &integration.TestRequest{Method: http.MethodGet, Path: f.testPath}
	}
	return nil
}

func (f *integrationFlags) applyRate(fs *pflag.FlagSet, i *integration.Integration) error {
	if fs.Changed("rate-limit") {
		if f.rate == "off" {
			i.RateLimit = nil
		} else {
			n, per, ok := strings.Cut(f.rate, "/")
			v, err := strconv.Atoi(n)
			if !ok || err != nil {
				return fmt.Errorf("--rate-limit %q: want N/second or N/minute", f.rate)
			}
			if i.RateLimit == nil {
				i.RateLimit = &integration.RateLimit{}
			}
			i.RateLimit.Requests, i.RateLimit.Per = v, per
		}
	}
	if fs.Changed("rate-policy") || fs.Changed("rate-max-wait") {
		if i.RateLimit == nil {
			return fmt.Errorf("--rate-policy and --rate-max-wait need a rate limit (--rate-limit)")
		}
		if fs.Changed("rate-policy") {
			i.RateLimit.Policy = f.ratePolicy
		}
		if fs.Changed("rate-max-wait") {
			i.RateLimit.MaxWait = integration.Duration(f.rateWait)
		}
	}
	return nil
}

func integrationCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "integration", Short: "Manage HTTP integrations with systems of record (docs/integrations.md)"}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant name (required)")
	_ = cmd.MarkPersistentFlagRequired("tenant")
	all := func() string { return tenantPath(tenant) + "/integrations" }
	one := func(name string) string { return all() + "/" + url.PathEscape(name) }

	var cf integrationFlags
	create := &cobra.Command{
		Use: "create (--file F | --name N --base-url U --auth METHOD ...)", Short: "Add an integration; secrets are sealed and never shown again", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var in integration.Integration
			if err := cf.apply(cmd.Flags(), &in); err != nil {
				return err
			}
			return g.call(cmd, http.MethodPost, all(), &in, showIntegration)
		},
	}
	cf.bind(create.Flags())

	var uf integrationFlags
	update := &cobra.Command{
		Use: "update NAME [flags]", Short: "Change an integration (flags not given keep their values; so do secrets)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(cmd.Context())
			if err != nil {
				return err
			}
			var cur integration.Integration
			if err := c.Do(cmd.Context(), http.MethodGet, one(args[0]), nil, &cur); err != nil {
				return err
			}
			if err := uf.apply(cmd.Flags(), &cur); err != nil {
				return err
			}
			cur.CreatedAt, cur.UpdatedAt = time.Time{}, time.Time{}
			return g.call(cmd, http.MethodPut, one(args[0]), &cur, showIntegration)
		},
	}
	uf.bind(update.Flags())
	update.Flags().Lookup("file").Usage = "JSON file with the whole integration (replaces it; secrets left out are kept)"

	get := &cobra.Command{
		Use: "get NAME", Short: "Show an integration (never its secrets)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodGet, one(args[0]), nil, showIntegration)
		},
	}
	var cursor string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List integrations", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, http.MethodGet, all()+pageQuery(cursor, limit), nil, showList("name", "base_url", "service_auth.method", "rate_limit.requests", "rate_limit.per"))
		},
	}
	pageFlags(list, &cursor, &limit)
	del := &cobra.Command{
		Use: "delete NAME", Short: "Delete an integration", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodDelete, one(args[0]), nil, deleted("integration "+args[0]))
		},
	}
	export := exportCmd(g, "export NAME", "Print the integration as JSON for import (no secret; its icon included)", one)
	imp := importCmd(g, "Add an exported integration (set its secrets with update afterwards)", "add it under this name instead of the exported one",
		func() string { return all() + "/import" }, showIntegration)
	test := &cobra.Command{
		Use: "test NAME", Short: "Test the connection: perform the integration's test request and show the outcome", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodPost, one(args[0])+"/test", nil, showFields("ok", "method", "url", "status", "duration_ms", "error", "error_description", "hint", "body"))
		},
	}
	authorize := &cobra.Command{
		Use: "authorize NAME", Short: "Print where to sign in once with the service account (OAuth 2.0 authorization code)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodPost, one(args[0])+"/authorize", nil, showFields("authorization_url", "redirect_uri"))
		},
	}
	cmd.AddCommand(create, update, get, list, del, export, imp, test, authorize, iconCmd(g, &tenant))
	return cmd
}

// iconCmd manages the tenant's custom icons (R-INT-7).
func iconCmd(g *globals, tenant *string) *cobra.Command {
	cmd := &cobra.Command{Use: "icon", Short: "Manage the tenant's integration icons (PNG, 128×128, transparent, at most 80 KB)"}
	all := func() string { return tenantPath(*tenant) + "/icons" }
	add := &cobra.Command{
		Use: "add FILE.png", Short: "Add an icon; prints its ID", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			return g.call(cmd, http.MethodPost, all(), map[string][]byte{"png": b}, showFields("id", "created_at"))
		},
	}
	list := &cobra.Command{
		Use: "list", Short: "List the icons offered", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, http.MethodGet, all(), nil, showList("id", "created_at"))
		},
	}
	var out string
	get := &cobra.Command{
		Use: "get ID --out FILE.png", Short: "Save an icon's PNG to a file", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client(cmd.Context())
			if err != nil {
				return err
			}
			var ic struct {
				PNG []byte `json:"png"`
			}
			if err := c.Do(cmd.Context(), http.MethodGet, all()+"/"+url.PathEscape(args[0]), nil, &ic); err != nil {
				return err
			}
			if err := os.WriteFile(out, ic.PNG, 0o644); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s: %d bytes\n", out, len(ic.PNG))
			return err
		},
	}
	get.Flags().StringVar(&out, "out", "", "the file to write (required)")
	_ = get.MarkFlagRequired("out")
	remove := &cobra.Command{
		Use: "remove ID", Short: "Stop offering an icon (integrations that use it keep it)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodDelete, all()+"/"+url.PathEscape(args[0]), nil, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintln(w, "icon "+args[0]+" removed")
				return err
			})
		},
	}
	cmd.AddCommand(add, list, get, remove)
	return cmd
}
