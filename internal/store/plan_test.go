package store

import (
	"strings"
	"testing"
)

// Deleting a family (the janitor, a user's or an app's deletion) cascades
// to its refresh tokens, and deleting a user to their families: each must
// find the children through an index, or every deletion scans the tenant's
// tokens while it holds the writer. (WITHOUT ROWID grant tables made
// SQLite's planner pick a scan of the primary key here: the janitor then
// stalled every write for seconds under load.)
func TestSQLiteCascadesUseIndexes(t *testing.T) {
	d := openSQLite(t)
	for _, c := range []struct{ stmt, want string }{
		{"DELETE FROM token_families WHERE tenant_id = 'a' AND id = 'b'", "refresh_tokens_by_family"},
		{"DELETE FROM users WHERE tenant_id = 'a' AND id = 'b'", "token_families_by_user"},
		{"SELECT id FROM token_families WHERE tenant_id = 'a' AND sid = 'b' AND revoked_at = 0", "token_families_by_sid"},
	} {
		rows, err := d.w.Query("EXPLAIN QUERY PLAN " + c.stmt)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if !strings.Contains(strings.Join(plan, "\n"), c.want) {
			t.Errorf("%s: plan does not use %s:\n%s", c.stmt, c.want, strings.Join(plan, "\n"))
		}
	}
}
