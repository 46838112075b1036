package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/internal/adminapi"
	"github.com/gatehouse-id/gatehouse/internal/ui"
)

// themeCmd is `gatehouse tenant theme get|set|reset`: the look of a
// tenant's login and consent pages (R-OID-9).
func themeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "theme",
		Short: "Show or change the look of a tenant's login and consent pages",
		Long: "A tenant's theme: product name, logo, colours and texts of its login and consent pages.\n" +
			"Name the tenant as the argument or with --tenant. Empty values mean the default.",
	}
	var flagTenant string
	cmd.PersistentFlags().StringVar(&flagTenant, "tenant", "", "tenant name (or give it as the argument)")
	tenantOf := func(args []string) (string, error) {
		switch {
		case len(args) == 1 && flagTenant != "" && args[0] != flagTenant:
			return "", fmt.Errorf("two tenants given: %q and --tenant %q", args[0], flagTenant)
		case len(args) == 1:
			return args[0], nil
		case flagTenant != "":
			return flagTenant, nil
		}
		return "", errors.New("name the tenant: gatehouse tenant theme COMMAND NAME (or --tenant NAME)")
	}
	path := func(tenant string) string { return tenantPath(tenant) + "/theme" }

	get := &cobra.Command{
		Use: "get [NAME]", Short: "Show a tenant's theme", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tenant, err := tenantOf(args)
			if err != nil {
				return err
			}
			return g.call(cmd, http.MethodGet, path(tenant), nil, showTheme)
		},
	}

	fields := []struct {
		flag, usage string
		at          func(*ui.Theme) *string
	}{
		{"product-name", "product name in the header and title (default Gatehouse)", func(t *ui.Theme) *string { return &t.ProductName }},
		{"logo-url", "logo: an https URL or an absolute path on this server (default none)", func(t *ui.Theme) *string { return &t.LogoURL }},
		{"primary-color", "colour of buttons and links, #rrggbb", func(t *ui.Theme) *string { return &t.PrimaryColor }},
		{"background-color", "page background colour, #rrggbb", func(t *ui.Theme) *string { return &t.BackgroundColor }},
		{"title", "heading of the sign-in page (default \"Sign in\")", func(t *ui.Theme) *string { return &t.Texts.LoginTitle }},
		{"welcome", "a line under the sign-in heading (default none)", func(t *ui.Theme) *string { return &t.Texts.LoginIntro }},
		{"consent-title", "heading of the consent page (default \"Allow access?\")", func(t *ui.Theme) *string { return &t.Texts.ConsentTitle }},
		{"footer", "a line at the bottom of every page (default none)", func(t *ui.Theme) *string { return &t.Texts.Footer }},
	}
	values := make([]string, len(fields))
	set := &cobra.Command{
		Use:   "set [NAME] [--product-name S] [--logo-url U] [--primary-color #rrggbb] [--background-color #rrggbb] [--title S] [--welcome S] [--consent-title S] [--footer S]",
		Short: "Change a tenant's theme: the values given, keeping the others (an empty value means the default)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tenant, err := tenantOf(args)
			if err != nil {
				return err
			}
			changed := false
			for _, f := range fields {
				changed = changed || cmd.Flags().Changed(f.flag)
			}
			if !changed {
				return errors.New("nothing to change: give at least one of --product-name, --logo-url, --primary-color, --background-color, --title, --welcome, --consent-title, --footer")
			}
			c, err := g.client(cmd.Context())
			if err != nil {
				return err
			}
			var cur adminapi.ThemeView
			if err := c.Do(cmd.Context(), http.MethodGet, path(tenant), nil, &cur); err != nil {
				return err
			}
			next := cur.Theme
			for i, f := range fields {
				if cmd.Flags().Changed(f.flag) {
					*f.at(&next) = values[i]
				}
			}
			return g.call(cmd, http.MethodPut, path(tenant), next, showTheme)
		},
	}
	for i, f := range fields {
		set.Flags().StringVar(&values[i], f.flag, "", f.usage)
	}

	reset := &cobra.Command{
		Use: "reset [NAME]", Short: "Go back to the default theme", Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tenant, err := tenantOf(args)
			if err != nil {
				return err
			}
			return g.call(cmd, http.MethodDelete, path(tenant), nil, func(w io.Writer, _ json.RawMessage) error {
				_, err := fmt.Fprintf(w, "tenant %s uses the default theme\n", tenant)
				return err
			})
		},
	}
	cmd.AddCommand(get, set, reset)
	return cmd
}

// showTheme prints the theme the pages are drawn with, marking the values
// that are the default.
func showTheme(w io.Writer, raw json.RawMessage) error {
	var v adminapi.ThemeView
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range []struct{ name, saved, shown string }{
		{"product_name", v.ProductName, v.Effective.ProductName},
		{"logo_url", v.LogoURL, v.Effective.LogoURL},
		{"primary_color", v.PrimaryColor, v.Effective.PrimaryColor},
		{"background_color", v.BackgroundColor, v.Effective.BackgroundColor},
		{"title", v.Texts.LoginTitle, v.Effective.Texts.LoginTitle},
		{"welcome", v.Texts.LoginIntro, v.Effective.Texts.LoginIntro},
		{"consent_title", v.Texts.ConsentTitle, v.Effective.Texts.ConsentTitle},
		{"footer", v.Texts.Footer, v.Effective.Texts.Footer},
	} {
		mark := ""
		if f.saved == "" {
			mark = "\t(default)"
		}
		fmt.Fprintf(tw, "%s:\t%s%s\n", f.name, f.shown, mark)
	}
	if v.UpdatedAt != nil {
		fmt.Fprintf(tw, "updated_at:\t%s\n", v.UpdatedAt.Format("2006-01-02T15:04:05Z07:00"))
	}
	return tw.Flush()
}
