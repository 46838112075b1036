package adminapi

import (
	"net/http"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/audit"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
)

// listAudit is the audit log (R-ADM-4), newest first, filtered by tenant,
// actor, action, target and a time range, one page at a time.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	f := audit.Filter{TenantID: q.Get("tenant"), Actor: q.Get("actor"), Action: q.Get("action"), Target: q.Get("target"), Before: p.Cursor, Limit: p.Limit + 1}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(t.name); v != "" {
			tm, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return derrors.Invalidf(t.name, "must be a time such as 2026-12-08T00:00:00Z (RFC 3339)")
			}
			*t.to = tm
		}
	}
	l, err := a.Audit.ListAuditEvents(r.Context(), f)
	if err != nil {
		return err
	}
	l, next := page(l, p, func(e *audit.Event) string { return e.ID })
	if l == nil {
		l = []*audit.Event{}
	}
	return writeJSON(w, http.StatusOK, List[*audit.Event]{Items: l, NextCursor: next})
}
