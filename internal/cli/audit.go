package cli

import (
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
)

// auditCmd reads the audit log (R-ADM-4).
func auditCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit log of admin changes"}
	var f struct{ tenant, actor, action, target, since, until, cursor string }
	var limit int
	list := &cobra.Command{
		Use: "list [--tenant T] [--actor ID] [--action A] [--target T] [--since TIME] [--until TIME]", Short: "List audit events, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"tenant": f.tenant, "actor": f.actor, "action": f.action, "target": f.target, "since": f.since, "until": f.until} {
				if v != "" {
					q.Set(k, v)
				}
			}
			path := "/admin/v1/audit"
			if p := pageQuery(f.cursor, limit); p != "" {
				path += p + "&" + q.Encode()
			} else if len(q) > 0 {
				path += "?" + q.Encode()
			}
			return g.call(cmd, http.MethodGet, path, nil, showList("time", "tenant", "actor", "action", "target"))
		},
	}
	fl := list.Flags()
	fl.StringVar(&f.tenant, "tenant", "", "events of this tenant")
	fl.StringVar(&f.actor, "actor", "", "events of this actor (an admin client ID)")
	fl.StringVar(&f.action, "action", "", `events of this action, such as "POST /apps"`)
	fl.StringVar(&f.target, "target", "", "events on this target, such as apps/CLIENT_ID")
	fl.StringVar(&f.since, "since", "", "events at or after this time (RFC 3339)")
	fl.StringVar(&f.until, "until", "", "events before this time (RFC 3339)")
	pageFlags(list, &f.cursor, &limit)
	cmd.AddCommand(list)
	return cmd
}
