package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/config"
)

// Issue 11 acceptance, R-INT-5: two Gatehouse processes on one PostgreSQL,
// an integration limited to 5 calls per second: 100 calls spread over both
// never bring the upstream more than 5 in any epoch second; with reject the
// others get 429 with Retry-After, with wait they arrive later.
func TestIntegrationRateLimitReplicas(t *testing.T) {
	dsn := postgresURL(t)
	key := newMasterKey()
	one := start(t, options{database: dsn, masterKey: key})
	two := start(t, options{database: dsn, masterKey: key, dataDir: one.DataDir, mutate: func(c *config.Config) { c.PublicURL = one.URL }})
	issuer := one.createTenant(t, "acme", "ES256")
	admin := one.adminToken(t)
	caller := one.createApp(t, "acme", "--type", "s2s", "--name", "caller", "--scope", "integration:up")
	tok := tokenFor(t, issuer+"/oauth/token", caller.ClientID, caller.ClientSecret, url.Values{"scope": {"integration:up"}})

	var mu sync.Mutex
	perSecond := map[int64]int{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		perSecond[time.Now().Unix()]++
		mu.Unlock()
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(up.Close)
	busiest := func() (int64, int) {
		mu.Lock()
		defer mu.Unlock()
		var sec int64
		n := 0
		for s, c := range perSecond {
			if c > n {
				sec, n = s, c
			}
		}
		return sec, n
	}
	set := func(policy string) {
		mu.Lock()
		clear(perSecond)
		mu.Unlock()
		body := map[string]any{"name": "up", "base_url": up.URL, "service_auth": map[string]any{"method": "none"},
			"rate_limit": map[string]any{"requests": 5, "per": "second", "policy": policy, "max_wait": map[bool]string{true: "10s", false: ""}[policy == "wait"]}}
		if policy == "reject" {
			delete(body["rate_limit"].(map[string]any), "max_wait")
		}
		r := one.api(t, admin, "PUT", "/admin/v1/tenants/acme/integrations/up", body)
		if r.Status == 404 {
			r = one.api(t, admin, "POST", "/admin/v1/tenants/acme/integrations", body)
		}
		if r.Status != 200 && r.Status != 201 {
			t.Fatalf("integration: %d %s", r.Status, r.Raw)
		}
		// The other process hears of the change when it commits
		// (LISTEN/NOTIFY, within milliseconds): wait until it has.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			got := two.api(t, admin, "GET", "/admin/v1/tenants/acme/integrations/up", nil)
			if rl, _ := got.Body["rate_limit"].(map[string]any); rl["policy"] == policy {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the second process still has the old integration: %s", got.Raw)
			}
		}
	}
	call := func(base string) (int, string, error) {
		req, _ := http.NewRequest("GET", base+"/t/acme/integrations/up/call/x", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After"), nil
	}
	// run makes n calls from workers goroutines, each pausing pace
	// between its calls, alternating the two processes.
	run := func(n, workers int, pace time.Duration) (ok, limited int64, retryAfter string) {
		var okN, limN atomic.Int64
		var ra atomic.Value
		var wg sync.WaitGroup
		next := atomic.Int64{}
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				base := []string{one.URL, two.URL}[w%2]
				for next.Add(1) <= int64(n) {
					time.Sleep(pace)
					st, r, err := call(base)
					switch {
					case err != nil:
						t.Error(err)
					case st == 200:
						okN.Add(1)
					case st == 429:
						limN.Add(1)
						ra.Store(r)
					default:
						t.Errorf("status %d", st)
					}
				}
			}()
		}
		wg.Wait()
		s, _ := ra.Load().(string)
		return okN.Load(), limN.Load(), s
	}

	set("reject")
	start := time.Now()
	// 100 calls over about 2.5 s: several windows, and their boundaries.
	ok, limited, ra := run(100, 10, 250*time.Millisecond)
	elapsed := time.Since(start)
	sec, most := busiest()
	t.Logf("reject: %d through, %d refused in %v; busiest second %d: %d", ok, limited, elapsed, sec, most)
	if ok+limited != 100 || limited == 0 || ok < 10 {
		t.Fatalf("reject: %d through, %d refused", ok, limited)
	}
	if most > 5 {
		t.Errorf("the upstream saw %d calls in second %d, limit 5", most, sec)
	}
	if n, err := strconv.Atoi(ra); err != nil || n < 1 || n > 1 {
		t.Errorf("Retry-After %q, want 1 (second windows)", ra)
	}
	if max := int64(5 * (elapsed.Seconds() + 2)); ok > max {
		t.Errorf("%d calls through in %v: more than 5 per second", ok, elapsed)
	}

	set("wait")
	start = time.Now()
	ok, limited, _ = run(16, 8, 0)
	elapsed = time.Since(start)
	sec, most = busiest()
	t.Logf("wait: %d through, %d refused in %v; busiest second %d: %d", ok, limited, elapsed, sec, most)
	if ok != 16 || limited != 0 {
		t.Errorf("wait: %d through, %d refused; want all 16 through", ok, limited)
	}
	if most > 5 {
		t.Errorf("the upstream saw %d calls in second %d, limit 5", most, sec)
	}
	if elapsed < 2*time.Second {
		t.Errorf("16 calls at 5 per second took %v: they did not wait", elapsed)
	}
}
