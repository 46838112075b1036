package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/internal/adminapi"
)

var showUser = showFields("id", "username", "email", "email_verified", "given_name", "family_name", "groups",
	"state", "blocked_at", "has_password", "password_changed_at", "created_at", "updated_at")

// readPassword reads a password from stdin: everything up to EOF, less one
// trailing line break, so that `echo pw |` and a file both work. Passwords
// are never taken from flags, which other users can see in the process list.
func readPassword(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return "", fmt.Errorf("read the password from stdin: %w", err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return "", errors.New("--password-stdin: stdin holds no password")
	}
	return string(b), nil
}

func userCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage the users of a tenant"}
	var tenant string
	cmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant name (required)")
	_ = cmd.MarkPersistentFlagRequired("tenant")
	users := func() string { return tenantPath(tenant) + "/users" }
	one := func(id string) string { return users() + "/" + url.PathEscape(id) }

	var in adminapi.UserInput
	var passwordStdin bool
	create := &cobra.Command{
		Use:   "create --username U --email E [--given-name G] [--family-name F] [--group G]... [--password-stdin]",
		Short: "Create a user; with --password-stdin its password is read from stdin",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body := in
			if passwordStdin {
				pw, err := readPassword(cmd.InOrStdin())
				if err != nil {
					return err
				}
				body.Password = &pw
			}
			return g.call(cmd, http.MethodPost, users(), body, showUser)
		},
	}
	cf := create.Flags()
	cf.StringVar(&in.Username, "username", "", "username: letters, digits and . _ - @, 1-100, unique in the tenant")
	cf.StringVar(&in.Email, "email", "", "email address, unique in the tenant")
	cf.BoolVar(&in.EmailVerified, "email-verified", false, "the email address is known to belong to the user")
	cf.StringVar(&in.GivenName, "given-name", "", "given name")
	cf.StringVar(&in.FamilyName, "family-name", "", "family name")
	cf.StringArrayVar(&in.Groups, "group", nil, "external group (repeatable)")
	cf.BoolVar(&passwordStdin, "password-stdin", false, "read the user's password from stdin")

	get := &cobra.Command{
		Use: "get USER_ID", Short: "Show a user", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodGet, one(args[0]), nil, showUser)
		},
	}
	var cursor string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List users by username", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.call(cmd, http.MethodGet, users()+pageQuery(cursor, limit), nil, showList("id", "username", "email", "state"))
		},
	}
	pageFlags(list, &cursor, &limit)

	var up struct {
		username, email, given, family string
		verified, clearGroups          bool
		groups                         []string
	}
	update := &cobra.Command{
		Use: "update USER_ID [flags]", Short: "Change a user's profile (flags not given keep their values)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			fs := cmd.Flags()
			var p adminapi.UserPatch
			if fs.Changed("username") {
				p.Username = &up.username
			}
			if fs.Changed("email") {
				p.Email = &up.email
			}
			if fs.Changed("email-verified") {
				p.EmailVerified = &up.verified
			}
			if fs.Changed("given-name") {
				p.GivenName = &up.given
			}
			if fs.Changed("family-name") {
				p.FamilyName = &up.family
			}
			if fs.Changed("group") && up.clearGroups {
				return errors.New("--group and --clear-groups exclude each other")
			}
			if fs.Changed("group") {
				p.Groups = &up.groups
			}
			if up.clearGroups {
				none := []string{}
				p.Groups = &none
			}
			return g.call(cmd, http.MethodPatch, one(args[0]), p, showUser)
		},
	}
	uf := update.Flags()
	uf.StringVar(&up.username, "username", "", "new username")
	uf.StringVar(&up.email, "email", "", "new email address")
	uf.BoolVar(&up.verified, "email-verified", false, "whether the email address is verified (--email-verified=false to clear)")
	uf.StringVar(&up.given, "given-name", "", "new given name")
	uf.StringVar(&up.family, "family-name", "", "new family name")
	uf.StringArrayVar(&up.groups, "group", nil, "external group (repeatable; replaces the groups)")
	uf.BoolVar(&up.clearGroups, "clear-groups", false, "remove every group")

	var confirm bool
	del := &cobra.Command{
		Use: "delete USER_ID --confirm", Short: "Delete a user (irreversible)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !confirm {
				return fmt.Errorf("deleting a user is irreversible: add --confirm to delete %s", args[0])
			}
			return g.call(cmd, http.MethodDelete, one(args[0])+"?confirm="+url.QueryEscape(args[0]), nil, deleted("user "+args[0]))
		},
	}
	del.Flags().BoolVar(&confirm, "confirm", false, "confirm the deletion")

	block := &cobra.Command{
		Use: "block USER_ID", Short: "Block a user at once: no more logins or token refreshes", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodPost, one(args[0])+"/block", nil, showFields("id", "username", "state", "blocked_at"))
		},
	}
	unblock := &cobra.Command{
		Use: "unblock USER_ID", Short: "Let a blocked user log in again", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodPost, one(args[0])+"/unblock", nil, showFields("id", "username", "state", "blocked_at"))
		},
	}

	var setStdin bool
	setPassword := &cobra.Command{
		Use: "set-password USER_ID --password-stdin", Short: "Set a user's password, read from stdin", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !setStdin {
				return errors.New("give the password on stdin with --password-stdin (never as a flag)")
			}
			pw, err := readPassword(cmd.InOrStdin())
			if err != nil {
				return err
			}
			return g.call(cmd, http.MethodPut, one(args[0])+"/password", adminapi.PasswordInput{Password: pw}, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintf(w, "password of user %s set\n", args[0])
				return err
			})
		},
	}
	setPassword.Flags().BoolVar(&setStdin, "password-stdin", false, "read the password from stdin")

	var clientID string
	access := &cobra.Command{
		Use: "access USER_ID --app CLIENT_ID", Short: "Show the roles and permissions the user's tokens for an app carry", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if clientID == "" {
				return errors.New("--app: the application's client ID is required")
			}
			return g.call(cmd, http.MethodGet, one(args[0])+"/access?client_id="+url.QueryEscape(clientID), nil, showFields("client_id", "roles", "permissions"))
		},
	}
	access.Flags().StringVar(&clientID, "app", "", "the application's client ID (required)")

	unlock := &cobra.Command{
		Use: "unlock USER_ID", Short: "Lift the brute-force lockout and delays of a user's sign-ins", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodPost, one(args[0])+"/unlock", nil, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintln(w, "user "+args[0]+" unlocked")
				return err
			})
		},
	}
	cmd.AddCommand(create, get, list, update, del, block, unblock, unlock, setPassword, access, userRolesCmd(g, one), userConsentsCmd(g, one))
	return cmd
}

func userConsentsCmd(g *globals, one func(string) string) *cobra.Command {
	cmd := &cobra.Command{Use: "consents", Short: "List or revoke a user's consents to third-party apps"}
	list := &cobra.Command{
		Use: "list USER_ID", Short: "List the apps a user consented to, with the scopes approved", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodGet, one(args[0])+"/consents", nil, showList("client_id", "app_name", "scopes", "granted_at"))
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke USER_ID CLIENT_ID",
		Short: "Revoke a user's consent to an app: its tokens for the user stop working and the next sign-in asks again",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodDelete, one(args[0])+"/consents/"+url.PathEscape(args[1]), nil, func(w io.Writer, raw json.RawMessage) error {
				var rv adminapi.ConsentRevocation
				if err := json.Unmarshal(raw, &rv); err != nil {
					return err
				}
				_, err := fmt.Fprintf(w, "consent of user %s to app %s revoked, with %s\n", args[0], rv.ClientID, plural(rv.RevokedGrants, "grant"))
				return err
			})
		},
	}
	cmd.AddCommand(list, revoke)
	return cmd
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func userRolesCmd(g *globals, one func(string) string) *cobra.Command {
	cmd := &cobra.Command{Use: "roles", Short: "Show or set a user's roles"}
	show := func(w io.Writer, raw json.RawMessage) error {
		var r adminapi.UserRoles
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		_, err := fmt.Fprintln(w, strings.Join(r.Roles, "\n"))
		return err
	}
	get := &cobra.Command{
		Use: "get USER_ID", Short: "List the names of a user's roles", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.call(cmd, http.MethodGet, one(args[0])+"/roles", nil, show)
		},
	}
	set := &cobra.Command{
		Use: "set USER_ID [ROLE]...", Short: "Replace a user's roles with those given (none: take every role away)", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			roles := args[1:]
			if roles == nil {
				roles = []string{}
			}
			return g.call(cmd, http.MethodPut, one(args[0])+"/roles", adminapi.UserRoles{Roles: roles}, show)
		},
	}
	cmd.AddCommand(get, set)
	return cmd
}
