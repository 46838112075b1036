package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/internal/config"
)

// outcome is one request of the load: when it started, how long it took,
// what it got.
type outcome struct {
	kind   string
	start  time.Time
	took   time.Duration
	status int // 0: no HTTP answer
	retry  string
	body   string
}

// hangBound is the longest any request may take, fault or not.
const hangBound = 10 * time.Second

// Issue 8 §4: PostgreSQL restarted under load. Every connection to the
// database is cut and new ones are refused for a while, then it comes back.
// During the outage requests fail fast with 503 and Retry-After (never a
// 500, never a hang), /readyz says not ready, and the server recovers by
// itself: no restart, no lost refresh family.
func TestFaultPostgresOutage(t *testing.T) {
	dsn := postgresURL(t)
	target, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := newTCPFault(t, target.Host)
	// A rotation whose commit reached the database but whose reply was lost
	// in the cut is answered again to the client's retry within the refresh
	// grace window; past it the retry would count as reuse and revoke the
	// family. The grace must outlast the outage (docs/operations.md).
	f := newFlow(t, options{database: proxiedDSN(t, dsn, db.addr), mutate: func(c *config.Config) { c.RefreshGrace = 30 * time.Second }})
	web := f.inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb", "--first-party")
	svc := f.inst.createApp(t, "acme", "--type", "s2s", "--name", "svc")
	cfg := f.oauthConfig(web, "https://portal.example.com/cb", "openid", "offline_access")
	q := newBrowser(t).login(cfg.AuthCodeURL("s"), f.inst.URL, "alice", "correct horse battery", "")
	tok, err := cfg.Exchange(context.Background(), q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	refresh := tok.RefreshToken
	authURL := cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))

	client := &http.Client{Timeout: 2 * hangBound, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(kind string, req *http.Request) outcome {
		o := outcome{kind: kind, start: time.Now()}
		resp, err := client.Do(req)
		o.took = time.Since(o.start)
		if err != nil {
			o.body = err.Error()
			return o
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		o.status, o.retry, o.body = resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
		return o
	}
	form := func(u string, v url.Values, id, secret string) *http.Request {
		req, _ := http.NewRequest("POST", u, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		return req
	}
	var refreshMu sync.Mutex
	kinds := map[string]func() outcome{
		"client_credentials": func() outcome {
			return do("client_credentials", form(f.issuer+"/oauth/token", url.Values{"grant_type": {"client_credentials"}}, svc.ClientID, svc.ClientSecret))
		},
		// One family, refreshed over and over; a failed refresh is retried
		// with the same token, as a client does.
		"refresh": func() outcome {
			refreshMu.Lock()
			defer refreshMu.Unlock()
			o := do("refresh", form(f.issuer+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}, web.ClientID, web.ClientSecret))
			if o.status == 200 {
				var tr struct {
					RefreshToken string `json:"refresh_token"`
				}
				if err := json.Unmarshal([]byte(o.body), &tr); err == nil && tr.RefreshToken != "" {
					refresh = tr.RefreshToken
				}
			}
			return o
		},
		"admin_api": func() outcome {
			req, _ := http.NewRequest("GET", f.inst.URL+"/admin/v1/tenants/acme/users/"+f.userID, nil)
			req.Header.Set("Authorization", "Bearer "+f.admin)
			return do("admin_api", req)
		},
		"authorize": func() outcome {
			req, _ := http.NewRequest("GET", authURL, nil)
			return do("authorize", req)
		},
		// A live access token is live or the answer is 503: never a 200
		// with active=false, never a 401 at UserInfo (issue 8 §1).
		"introspect": func() outcome {
			return do("introspect", form(f.issuer+"/oauth/introspect", url.Values{"token": {tok.AccessToken}}, svc.ClientID, svc.ClientSecret))
		},
		"userinfo": func() outcome {
			req, _ := http.NewRequest("GET", f.issuer+"/oauth/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			return do("userinfo", req)
		},
		"readyz": func() outcome {
			req, _ := http.NewRequest("GET", f.inst.URL+"/readyz", nil)
			return do("readyz", req)
		},
	}
	ok := func(o outcome) bool {
		switch o.kind {
		case "authorize":
			return o.status == http.StatusFound || o.status == http.StatusSeeOther
		case "introspect":
			return o.status == http.StatusOK && strings.Contains(o.body, `"active":true`)
		}
		return o.status == http.StatusOK
	}

	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	for kind, call := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				o := call()
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
				if kind == "readyz" || o.status != http.StatusOK {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(time.Second)
	cutAt := time.Now()
	db.cut()
	time.Sleep(3 * time.Second)
	restoredAt := time.Now()
	db.restore()
	// Recovered: every kind of request has succeeded after the restore.
	var recoveredAt time.Time
	for deadline := time.Now().Add(20 * time.Second); recoveredAt.IsZero() && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		last := map[string]time.Time{}
		for _, o := range outcomes {
			if o.start.After(restoredAt) && ok(o) {
				last[o.kind] = o.start.Add(o.took)
			}
		}
		mu.Unlock()
		if len(last) == len(kinds) {
			for _, at := range last {
				if at.After(recoveredAt) {
					recoveredAt = at
				}
			}
		}
	}
	close(stop)
	wg.Wait()

	var before, during, failed, hung, fast int
	var slowest time.Duration
	for _, o := range outcomes {
		slowest = max(slowest, o.took)
		if o.took > hangBound {
			hung++
			t.Errorf("%s took %v (> %v): %d %.200s", o.kind, o.took, hangBound, o.status, o.body)
		}
		if o.status == http.StatusInternalServerError || strings.Contains(o.body, "goroutine ") || strings.Contains(o.body, "panic") {
			t.Errorf("%s: %d %.300s", o.kind, o.status, o.body)
		}
		end := o.start.Add(o.took)
		switch {
		case end.Before(cutAt):
			before++
			if !ok(o) {
				t.Errorf("%s before the fault: %d %.200s", o.kind, o.status, o.body)
			}
		case o.start.After(cutAt) && end.Before(restoredAt):
			during++
			if ok(o) {
				if o.kind == "readyz" {
					t.Errorf("/readyz said ready %v into the outage", o.start.Sub(cutAt))
				}
				continue
			}
			failed++
			if o.status != http.StatusServiceUnavailable || o.retry == "" {
				t.Errorf("%s during the outage: %d (Retry-After %q), want 503 with Retry-After: %.200s", o.kind, o.status, o.retry, o.body)
				continue
			}
			if o.took < time.Second {
				fast++
			}
		}
	}
	if during == 0 || failed == 0 {
		t.Fatalf("no request failed during the outage (%d requests): the fault did not reach the server", during)
	}
	if recoveredAt.IsZero() {
		last := map[string]string{}
		for _, o := range outcomes {
			last[o.kind] = fmt.Sprintf("%d %.200q", o.status, o.body)
		}
		t.Fatalf("not recovered 20 s after the database came back; the last answers: %v", last)
	}
	// The refresh family survived: the latest token still refreshes.
	if o := kinds["refresh"](); o.status != 200 {
		t.Fatalf("the refresh family did not survive the outage: %d %s", o.status, o.body)
	}
	t.Logf("PostgreSQL outage of %v under load: %d requests before, %d during (%d failed, all 503 with Retry-After, %d of them answered in < 1 s), "+
		"%d hung (> %v), slowest request %v, recovered %v after the database came back, with no restart",
		restoredAt.Sub(cutAt).Round(time.Millisecond), before, during, failed, fast, hung, hangBound, slowest.Round(time.Millisecond),
		recoveredAt.Sub(restoredAt).Round(time.Millisecond))
}
