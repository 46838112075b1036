// Command seed fills a running Gatehouse with many tenants and apps through
// the admin API, for the "10,000 tenants and 20,000 apps" benchmark figure.
//
//	go run ./bench/seed -data-dir DIR -tenants 10000 -apps 20000
//
// It reads the admin credentials that `gatehouse serve` writes to
// DIR/admin.json on first start, gets an admin access token with the
// client_credentials grant, and creates tenants seed-00001… and s2s apps
// app_00001… spread evenly over them, with a few workers in parallel. Objects
// that already exist (HTTP 409) count as done, so a rerun tops up.
//
// Everything that depends on the admin API's exact shape is in adminAPI below.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run() error {
	dataDir := flag.String("data-dir", "", "Gatehouse data directory holding admin.json (required)")
	server := flag.String("server", "", "Gatehouse base URL (default: \"server\" from admin.json)")
	tenants := flag.Int("tenants", 10000, "number of tenants to create")
	apps := flag.Int("apps", 20000, "number of s2s apps to create, spread evenly over the tenants")
	workers := flag.Int("workers", 4, "parallel requests")
	alg := flag.String("signing-alg", "ES256", "signing algorithm of each tenant")
	prefix := flag.String("prefix", "seed", "tenant name prefix")
	scope := flag.String("scope", "", "scope to request for the admin token (empty: none)")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this long")
	flag.Parse()
	if *dataDir == "" || *tenants < 0 || *apps < 0 || *workers < 1 {
		flag.Usage()
		return errors.New("bad flags")
	}
	if *apps > 0 && *tenants == 0 {
		return errors.New("-apps needs at least one tenant")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	creds, err := readAdminJSON(filepath.Join(*dataDir, "admin.json"))
	if err != nil {
		return err
	}
	if *server != "" {
		creds.Server = *server
	}
	api := newAdminAPI(creds, *scope, *workers)

	names := make([]string, *tenants)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%05d", *prefix, i+1)
	}
	tenantJobs := make([]job, 0, len(names))
	for _, n := range names {
		tenantJobs = append(tenantJobs, job{tenant: n, alg: *alg})
	}
	appJobs := make([]job, 0, *apps)
	for i := range *apps {
		appJobs = append(appJobs, job{tenant: names[i%len(names)], app: fmt.Sprintf("app_%05d", i+1)})
	}

	// All tenants first, then the apps, so no app races its tenant.
	p := &progress{start: time.Now()}
	if err := p.phase(ctx, api, *workers, tenantJobs); err != nil {
		return err
	}
	if err := p.phase(ctx, api, *workers, appJobs); err != nil {
		return err
	}
	el := time.Since(p.start)
	fmt.Printf("seeded tenants=%d apps=%d created=%d existed=%d seconds=%.1f per_second=%.0f\n",
		*tenants, *apps, p.created.Load(), p.existed.Load(), el.Seconds(), float64(p.total.Load())/el.Seconds())
	return nil
}

// progress counts finished jobs across phases.
type progress struct {
	start                   time.Time
	created, existed, total atomic.Int64
}

// phase runs jobs on workers goroutines and returns the first error, which
// also stops the others.
func (p *progress) phase(ctx context.Context, api *adminAPI, workers int, jobs []job) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		ch       = make(chan job)
		firstErr error
		once     sync.Once
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				isNew, err := j.do(ctx, api)
				if err != nil {
					once.Do(func() { firstErr = err; cancel() })
					continue
				}
				if isNew {
					p.created.Add(1)
				} else {
					p.existed.Add(1)
				}
				if n := p.total.Add(1); n%1000 == 0 {
					fmt.Fprintf(os.Stderr, "seed: %d objects (%.0f/s)\n", n, float64(n)/time.Since(p.start).Seconds())
				}
			}
		}()
	}
feed:
	for _, j := range jobs {
		select {
		case ch <- j:
		case <-ctx.Done():
			break feed
		}
	}
	close(ch)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// job creates one tenant (app == "") or one app in a tenant.
type job struct {
	tenant, alg, app string
}

func (j job) do(ctx context.Context, api *adminAPI) (bool, error) {
	if j.app == "" {
		return api.createTenant(ctx, j.tenant, j.alg)
	}
	return api.createApp(ctx, j.tenant, j.app)
}

// adminCreds is DIR/admin.json as `gatehouse serve` writes it.
type adminCreds struct {
	Server       string `json:"server"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	TokenURL     string `json:"token_url"`
}

func readAdminJSON(path string) (adminCreds, error) {
	var c adminCreds
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if c.Server == "" || c.ClientID == "" || c.ClientSecret == "" {
		return c, fmt.Errorf("%s: server, client_id and client_secret are required", path)
	}
	return c, nil
}

// ---------------------------------------------------------------------------
// adminAPI: the only code that knows the admin API's paths and bodies.

type adminAPI struct {
	creds  adminCreds
	scope  string
	client *http.Client

	mu      sync.Mutex
	token   string
	expires time.Time
}

func newAdminAPI(c adminCreds, scope string, workers int) *adminAPI {
	c.Server = strings.TrimRight(c.Server, "/")
	if c.TokenURL == "" {
		c.TokenURL = c.Server + "/t/system/oauth/token"
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = workers + 2
	return &adminAPI{creds: c, scope: scope, client: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// createTenant: POST /admin/v1/tenants {"name", "signing_alg"}.
// It reports whether the tenant is new (false: it already existed).
func (a *adminAPI) createTenant(ctx context.Context, name, alg string) (bool, error) {
	return a.create(ctx, "/admin/v1/tenants", map[string]any{"name": name, "signing_alg": alg})
}

// createApp: POST /admin/v1/tenants/{tenant}/apps {"name", "type": "s2s"}.
func (a *adminAPI) createApp(ctx context.Context, tenant, name string) (bool, error) {
	return a.create(ctx, "/admin/v1/tenants/"+url.PathEscape(tenant)+"/apps", map[string]any{"name": name, "type": "s2s"})
}

func (a *adminAPI) create(ctx context.Context, path string, body any) (bool, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return false, err
	}
	for attempt := 0; ; attempt++ {
		tok, err := a.accessToken(ctx, attempt > 0)
		if err != nil {
			return false, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.creds.Server+path, bytes.NewReader(b))
		if err != nil {
			return false, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := a.client.Do(req)
		if err != nil {
			return false, err
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return true, nil
		case resp.StatusCode == http.StatusConflict:
			return false, nil
		case resp.StatusCode == http.StatusUnauthorized && attempt == 0:
			continue // token expired: fetch a new one once
		case resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusTooManyRequests:
			if attempt >= 5 {
				return false, fmt.Errorf("POST %s: %s: %s", path, resp.Status, msg)
			}
			select {
			case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
			case <-ctx.Done():
				return false, ctx.Err()
			}
		default:
			return false, fmt.Errorf("POST %s %s: %s: %s", path, b, resp.Status, bytes.TrimSpace(msg))
		}
	}
}

// accessToken returns a cached admin token, fetching one with
// client_credentials (client_secret_basic) when there is none, it is about to
// expire, or refresh is set.
func (a *adminAPI) accessToken(ctx context.Context, refresh bool) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !refresh && a.token != "" && time.Now().Before(a.expires) {
		return a.token, nil
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if a.scope != "" {
		form.Set("scope", a.scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.creds.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	// RFC 6749 §2.3.1: client_id and secret are form-encoded before Basic.
	req.SetBasicAuth(url.QueryEscape(a.creds.ClientID), url.QueryEscape(a.creds.ClientSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("admin token from %s: %s: %s", a.creds.TokenURL, resp.Status, bytes.TrimSpace(b))
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(b, &tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("admin token from %s: no access_token in %q", a.creds.TokenURL, b)
	}
	if tr.ExpiresIn <= 0 {
		tr.ExpiresIn = 300
	}
	a.token = tr.AccessToken
	// Renew after 80% of the lifetime.
	a.expires = time.Now().Add(time.Duration(tr.ExpiresIn) * time.Second * 4 / 5)
	return a.token, nil
}
