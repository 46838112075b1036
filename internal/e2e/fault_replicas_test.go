package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// retried calls fn until it reports done, as a client retries a request
// that failed on a replica (at most 20 times, 50 ms apart), and returns the
// number of failed tries.
func retried(t *testing.T, what string, fn func() (done bool, err error)) int {
	t.Helper()
	for i := range 20 {
		done, err := fn()
		if done {
			return i
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: still failing after 20 tries", what)
	return 0
}

// transient tells a failure a client retries (no answer, or 5xx) from an
// OAuth error it must not retry.
func transient(err error) (bool, error) {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
		return false, err
	}
	return false, nil
}

// Issue 8 §4, R-RUN-2: three `gatehouse serve` processes on one PostgreSQL
// behind a round-robin balancer. A code flow, refresh and logout whose
// steps land on different replicas; the replica that issued the code is
// killed (SIGKILL) while refreshes are in flight. No session, code or
// refresh family is lost, and clients retrying on another replica succeed.
func TestFaultReplicaKill(t *testing.T) {
	dsn := postgresURL(t)
	dir := t.TempDir()
	lb := newBalancer(t)
	env := []string{"GATEHOUSE_MASTER_KEY=" + newMasterKey()}
	var replicas []*process
	for range 3 {
		p := serveProcess(t, env, "--database", dsn, "--public-url", lb.URL, "--data-dir", dir, "--log-level", "info")
		replicas = append(replicas, p)
		lb.add(t, p.URL)
	}
	inst := &instance{URL: lb.URL, DataDir: dir, Logs: &syncBuffer{}, env: map[string]string{}}
	issuer := inst.createTenant(t, "acme", "ES256")
	admin := inst.adminToken(t)
	r := inst.api(t, admin, "POST", "/admin/v1/tenants/acme/users", map[string]any{"username": "alice", "email": "alice@example.com", "password": "correct horse battery"})
	if r.Status != 201 {
		t.Fatalf("user: %d %s", r.Status, r.Raw)
	}
	userID := r.Body["id"].(string)
	web := inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb", "--first-party")
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &oauth2.Config{ClientID: web.ClientID, ClientSecret: web.ClientSecret, Endpoint: provider.Endpoint(),
		RedirectURL: "https://portal.example.com/cb", Scopes: []string{"openid", "offline_access"}}
	verifier := provider.Verifier(&oidc.Config{ClientID: web.ClientID})

	// Two families refreshed in a loop while the replica dies.
	var families []string
	for range 2 {
		q := newBrowser(t).login(cfg.AuthCodeURL("s"), lb.URL, "alice", "correct horse battery", "")
		tok, err := cfg.Exchange(ctx, q.Get("code"))
		if err != nil {
			t.Fatal(err)
		}
		families = append(families, tok.RefreshToken)
	}

	// The user signs in: the steps land on every replica in turn.
	b := newBrowser(t)
	pkce := oauth2.GenerateVerifier()
	n := lb.count()
	q := b.login(cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(pkce), oidc.Nonce("n1")), lb.URL, "alice", "correct horse battery", "")
	steps := lb.since(n)
	if distinct := len(slices.Compact(slices.Sorted(slices.Values(steps)))); distinct != 3 {
		t.Fatalf("the sign-in's %d requests landed on %d replicas (%v), want all 3", len(steps), distinct, steps)
	}
	issuedBy := steps[len(steps)-1]

	// Load: each family is refreshed again and again, a failed refresh
	// retried with the same token, as a client does.
	type worker struct {
		token           string
		ok, failed      int
		hung            int
		lost            error
		firstOKAfterCut time.Time
	}
	workers := make([]*worker, len(families))
	var killedAt time.Time
	var mu sync.Mutex
	var wg sync.WaitGroup
	stop := make(chan struct{})
	client := &http.Client{Timeout: 2 * hangBound}
	for i, tok := range families {
		w := &worker{token: tok}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {w.token}}
				req, _ := http.NewRequest("POST", cfg.Endpoint.TokenURL, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(web.ClientID, web.ClientSecret)
				resp, err := client.Do(req)
				var status int
				var body []byte
				if err == nil {
					status = resp.StatusCode
					body, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				took := time.Since(start)
				mu.Lock()
				if took > hangBound {
					w.hung++
				}
				var tr struct {
					RefreshToken string `json:"refresh_token"`
				}
				switch {
				case status == 200 && json.Unmarshal(body, &tr) == nil && tr.RefreshToken != "":
					w.token = tr.RefreshToken
					w.ok++
					if !killedAt.IsZero() && w.firstOKAfterCut.IsZero() {
						w.firstOKAfterCut = time.Now()
					}
				case status != 0 && status < 500:
					w.lost = fmt.Errorf("%d %s", status, body)
				default:
					w.failed++
				}
				lost := w.lost
				mu.Unlock()
				if lost != nil {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	failedBefore := lb.failed.Load()
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	replicas[issuedBy].kill()
	t.Logf("killed replica %d (SIGKILL), which issued the code", issuedBy)

	// The code issued by the dead replica is exchanged at another.
	var tok *oauth2.Token
	exchangeRetries := retried(t, "exchange", func() (bool, error) {
		var err error
		if tok, err = cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pkce)); err != nil {
			return transient(err)
		}
		return true, nil
	})
	// go-oidc fetches the JWKS through the balancer too: its first request
	// may still reach the dead replica (502), and a client retries that.
	var idt *oidc.IDToken
	retried(t, "ID token", func() (bool, error) {
		var err error
		if idt, err = verifier.Verify(ctx, tok.Extra("id_token").(string)); err != nil {
			if strings.Contains(err.Error(), "502") {
				return false, nil
			}
			return false, err
		}
		return true, nil
	})
	if idt.Subject != userID || idt.Nonce != "n1" {
		t.Fatalf("ID token after the kill: sub %q nonce %q", idt.Subject, idt.Nonce)
	}
	// Refresh with rotation.
	var next *oauth2.Token
	retried(t, "refresh", func() (bool, error) {
		var err error
		if next, err = cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			return transient(err)
		}
		return next.RefreshToken != tok.RefreshToken, nil
	})
	// The session made on the dead replica still signs the user in.
	var q2 url.Values
	retried(t, "prompt=none", func() (bool, error) {
		p := b.follow(cfg.AuthCodeURL("st2", oauth2.SetAuthURLParam("prompt", "none")), lb.URL)
		if p.Status >= 500 {
			return false, nil
		}
		q2 = b.clientRedirect(p, lb.URL)
		return true, nil
	})
	if q2.Get("code") == "" {
		t.Fatalf("the session did not survive the kill: %v", q2)
	}
	retried(t, "exchange of the second code", func() (bool, error) {
		if _, err := cfg.Exchange(ctx, q2.Get("code")); err != nil {
			return transient(err)
		}
		return true, nil
	})
	// Logout ends the session and what it issued, on every replica.
	retried(t, "logout", func() (bool, error) {
		p := b.get(issuer + "/oauth/logout?client_id=" + web.ClientID)
		if p.Status >= 500 {
			return false, nil
		}
		if p.Status != 200 {
			return false, errors.New("logout: " + http.StatusText(p.Status))
		}
		return true, nil
	})
	for range 2 { // the next requests land on both surviving replicas
		retried(t, "prompt=none after logout", func() (bool, error) {
			p := b.follow(cfg.AuthCodeURL("st3", oauth2.SetAuthURLParam("prompt", "none")), lb.URL)
			if p.Status >= 500 {
				return false, nil
			}
			if q := b.clientRedirect(p, lb.URL); q.Get("error") != "login_required" {
				return false, fmt.Errorf("the session outlived the logout: %v", q)
			}
			return true, nil
		})
		retried(t, "refresh after logout", func() (bool, error) {
			_, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: next.RefreshToken}).Token()
			if isOAuthError(err, "invalid_grant") {
				return true, nil
			}
			if _, terr := transient(err); terr != nil || err == nil {
				return false, fmt.Errorf("refresh after logout: %v", err)
			}
			return false, nil
		})
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	var ok, failed, hung int
	var recovery time.Duration
	for i, w := range workers {
		if w.lost != nil {
			t.Errorf("family %d lost in the kill: %v", i, w.lost)
			continue
		}
		if w.firstOKAfterCut.IsZero() {
			t.Errorf("family %d never refreshed after the kill", i)
			continue
		}
		ok, failed, hung = ok+w.ok, failed+w.failed, hung+w.hung
		recovery = max(recovery, w.firstOKAfterCut.Sub(killedAt))
		// The family's newest token still refreshes.
		if _, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: w.token}).Token(); err != nil {
			t.Errorf("family %d after the kill: %v", i, err)
		}
	}
	if hung > 0 {
		t.Errorf("%d refreshes took more than %v", hung, hangBound)
	}
	t.Logf("SIGKILL of 1 of 3 replicas under refresh load: %d refreshes ok, %d failed and were retried (%d answered 502 by the balancer), %d hung (> %v), "+
		"every family refreshed again %v after the kill; the code exchange needed %d retries; no session, code or family lost",
		ok, failed, lb.failed.Load()-failedBefore, hung, hangBound, recovery.Round(time.Millisecond), exchangeRetries)
}
