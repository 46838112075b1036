package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type ackedUser struct{ id, name string }

// Issue 8 §4, R-RUN-1: the embedded database survives a crash. A server
// is killed (SIGKILL) during a burst of writes through the admin API and
// restarted on the same data dir: every user whose creation was
// acknowledged (201) is there, and the database passes PRAGMA
// integrity_check.
func TestFaultSQLiteKill(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--public-url", "http://127.0.0.1", "--data-dir", dir, "--log-level", "info"}
	p := serveProcess(t, nil, args...)
	inst := &instance{URL: p.URL, DataDir: dir, Logs: &syncBuffer{}, env: map[string]string{}}
	admin := inst.adminToken(t)
	if r := inst.api(t, admin, "POST", "/admin/v1/tenants", map[string]any{"name": "acme"}); r.Status != 201 {
		t.Fatalf("tenant: %d %s", r.Status, r.Raw)
	}

	var (
		mu    sync.Mutex
		acked []ackedUser
		hung  int
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 2 * hangBound}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				name := fmt.Sprintf("u%d-%d", w, i)
				b, _ := json.Marshal(map[string]any{"username": name, "email": name + "@example.com"})
				req, _ := http.NewRequest("POST", p.URL+"/admin/v1/tenants/acme/users", bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+admin)
				req.Header.Set("Content-Type", "application/json")
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				var u struct {
					ID string `json:"id"`
				}
				derr := json.NewDecoder(resp.Body).Decode(&u)
				resp.Body.Close()
				mu.Lock()
				if time.Since(start) > hangBound {
					hung++
				}
				if resp.StatusCode == http.StatusCreated && derr == nil {
					acked = append(acked, ackedUser{u.ID, name})
				}
				mu.Unlock()
				if resp.StatusCode != http.StatusCreated {
					t.Errorf("create %s: %d", name, resp.StatusCode)
					return
				}
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
	}
	p.kill()
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}

	// The crashed database is consistent as it lies on disk.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check after the kill: %q %v", check, err)
	}
	db.Close()

	// Restarted on the same data dir, it has every acknowledged write.
	start := time.Now()
	p = serveProcess(t, nil, args...)
	restart := time.Since(start)
	inst.URL = p.URL
	admin = inst.adminToken(t)
	var missing []string
	for _, u := range acked {
		if r := inst.api(t, admin, "GET", "/admin/v1/tenants/acme/users/"+u.id, nil); r.Status != 200 || r.Body["username"] != u.name {
			missing = append(missing, u.name)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged users lost in the kill: %v", len(missing), len(acked), missing)
	}
	t.Logf("SQLite: SIGKILL during a burst of user creations (4 at a time): %d acknowledged, 0 lost, %d hung (> %v), "+
		"integrity_check ok, restart to listening in %v", len(acked), hung, hangBound, restart.Round(time.Millisecond))
}
