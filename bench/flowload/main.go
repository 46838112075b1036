// Command flowload loads the user-flow endpoints of Gatehouse or of the
// reference node oidc-provider for bench/flow.sh: authorization code
// exchange, refresh token rotation, introspection, and (Gatehouse only) the
// whole login flow without a browser. It needs only the standard library and,
// to time the password hash in the same run, Gatehouse's internal/user.
//
// What cannot be replayed by a static wrk script is made first, unmeasured:
//
//   - Gatehouse: one real login through the login page (GET authorize → 303 to
//     the login page → GET it → POST username, password and its hidden form
//     fields → 303 resume → 303 to the redirect URI with ?code), then, with
//     that SSO session cookie, one GET authorize per code: Gatehouse answers
//     each with a fresh code (first-party app, no consent). Refresh and
//     access tokens come from exchanging such codes.
//   - oidc-provider: its interactions are the embedding application's pages,
//     so the codes, refresh tokens and opaque access tokens are minted with
//     its own models (AuthorizationCode, RefreshToken, AccessToken, Grant)
//     through server.mjs's POST /bench/mint, as its authorization endpoint
//     would leave them after a login.
//
// Then -workers goroutines send the measured requests over keep-alive
// connections for -duration (after an unmeasured -warmup), and the command
// prints one result line (see result.line) with the server's CPU time from
// /proc/PID/stat (summed over -pid's replicas), the driver's own, the
// database's and the proxy's (-db-probe, -proxy-pid), and the machine's other
// and steal shares from /proc/stat, as bench/run.sh does for wrk.
//
// Secrets come from the environment, not flags (the process list shows
// flags): FLOW_CLIENT_SECRET (web client), FLOW_RS_SECRET (resource server),
// FLOW_CC_SECRET (s2s client), FLOW_PASSWORD (the user's), FLOW_MINT_SECRET
// (oidc-provider's mint endpoint).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/user"
)

// Scenarios.
const (
	scCode        = "code"                 // authorization_code exchange
	scRefresh     = "refresh"              // refresh_token rotation, each worker along its own chain
	scIntrospect  = "introspect"           // introspection of a user grant's access token
	scIntroCC     = "introspect-cc"        // introspection of a client_credentials access token
	scIntroReresh = "introspect-refresh"   // introspection of a refresh token
	scIntroOpaque = "introspect-opaque"    // introspection of a user grant's opaque access token
	scIntroCCOpq  = "introspect-cc-opaque" // introspection of an opaque client_credentials access token
	scLogin       = "login"                // authorize → login page → POST → resume → code → token
	scSAML        = "saml"                 // Gatehouse: a signed SAML response for a signed-in user (IdP-initiated)
	scCheck       = "check"                // one of each, no load: the set-up works
	scTokens      = "tokens"               // print tokens to introspect, for wrk (FLOW_TOKEN lines)
	scArgon2      = "argon2"               // time the password check of one login, in this process
)

type config struct {
	target      string // gatehouse or oidc-provider
	scenario    string
	issuer      string
	clientID    string // web client
	secret      string
	redirect    string
	rsID        string // resource server (introspection)
	rsSecret    string
	ccID        string // s2s client (introspect-cc)
	ccSecret    string
	opaqueID    string // Gatehouse: web client with opaque access tokens
	opaqueKey   string
	ccOpaqueID  string // Gatehouse: s2s client with opaque access tokens
	ccOpaqueKey string
	username    string
	samlSP      string // Gatehouse: SAML app's entity ID (saml)
	users       int
	spreadAddrs bool
	password    string
	mintSecret  string
	pids        []int
	proxyPID    int
	dbProbe     string
	workers     int
	duration    time.Duration
	warmup      time.Duration
	codes       int
	warmupCodes int
	label       string
	timeout     time.Duration
	argon2N     int
	gcPercent   int
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "flowload:", err)
		os.Exit(1)
	}
}

func run() error {
	var c config
	flag.StringVar(&c.target, "target", "gatehouse", "gatehouse or oidc-provider")
	flag.StringVar(&c.scenario, "scenario", scCheck, "code, refresh, introspect, introspect-cc, introspect-refresh, login, saml, check, tokens or argon2")
	flag.IntVar(&c.argon2N, "argon2-n", 15, "argon2: password checks to time")
	flag.IntVar(&c.gcPercent, "gc-percent", 400, "argon2: Go GC target while timing (400: gatehouse serve's default --gc-percent; 0: leave GOGC)")
	flag.StringVar(&c.issuer, "issuer", "", "issuer URL (Gatehouse: http://HOST/t/TENANT; oidc-provider: http://HOST)")
	flag.StringVar(&c.clientID, "client-id", "", "confidential web client (client_secret_basic); secret in FLOW_CLIENT_SECRET")
	flag.StringVar(&c.redirect, "redirect-uri", "", "the web client's redirect URI")
	flag.StringVar(&c.rsID, "rs-id", "", "resource server client that introspects; secret in FLOW_RS_SECRET")
	flag.StringVar(&c.ccID, "cc-id", "", "s2s client for introspect-cc; secret in FLOW_CC_SECRET")
	flag.StringVar(&c.opaqueID, "opaque-client-id", "", "Gatehouse: web client whose access tokens are opaque; secret in FLOW_OPAQUE_SECRET\n"+
		"(oidc-provider: its access tokens to introspect are opaque anyway)")
	flag.StringVar(&c.ccOpaqueID, "cc-opaque-id", "", "Gatehouse: s2s client whose access tokens are opaque; secret in FLOW_CC_OPAQUE_SECRET")
	flag.StringVar(&c.username, "username", "", "Gatehouse user that logs in; password in FLOW_PASSWORD")
	flag.StringVar(&c.samlSP, "saml-sp", "", "saml: the entity ID of the SAML app the signed-in user is sent to")
	flag.IntVar(&c.users, "users", 0, "login: worker i logs in as USERNAME<i mod users> (0: all as USERNAME); the brute-force\n"+
		"limiter counts an attempt as failed until its password is checked, so concurrent logins of one user are throttled")
	flag.BoolVar(&c.spreadAddrs, "spread-addrs", true, "login: worker i connects from 127.0.0.<2+i> (server on 127.0.0.1 only)")
	pids := flag.String("pid", "", "server process IDs for CPU accounting, comma-separated (replicas: summed; empty: none)")
	flag.IntVar(&c.proxyPID, "proxy-pid", 0, "reverse proxy in front of the replicas, its CPU reported apart (0: none)")
	flag.StringVar(&c.dbProbe, "db-probe", "", "shell command printing \"ROWS PID...\": rows written so far in the database and its\n"+
		"backend process IDs (bench/lib.sh pg_probe), run around the measured run (empty: no database column)")
	flag.IntVar(&c.workers, "workers", 8, "concurrent requests (1-256)")
	flag.DurationVar(&c.duration, "duration", 15*time.Second, "measured run (1s-10m)")
	flag.DurationVar(&c.warmup, "warmup", 3*time.Second, "unmeasured run first (0: none)")
	flag.IntVar(&c.codes, "codes", 30000, "code: codes made for the measured run; it ends early when they run out (codes live 60 s)")
	flag.IntVar(&c.warmupCodes, "warmup-codes", 2000, "code: codes exchanged in the warm-up")
	flag.StringVar(&c.label, "label", "", "first column of the result line (default: target scenario)")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Second, "per-request timeout")
	flag.Parse()
	c.secret, c.rsSecret, c.ccSecret = os.Getenv("FLOW_CLIENT_SECRET"), os.Getenv("FLOW_RS_SECRET"), os.Getenv("FLOW_CC_SECRET")
	c.password, c.mintSecret = os.Getenv("FLOW_PASSWORD"), os.Getenv("FLOW_MINT_SECRET")
	c.opaqueKey, c.ccOpaqueKey = os.Getenv("FLOW_OPAQUE_SECRET"), os.Getenv("FLOW_CC_OPAQUE_SECRET")
	if c.label == "" {
		c.label = c.target + " " + c.scenario
	}
	switch {
	case c.target != "gatehouse" && c.target != "oidc-provider":
		return errors.New("-target must be gatehouse or oidc-provider")
	case c.issuer == "":
		return errors.New("-issuer is required")
	case c.workers < 1 || c.workers > 256:
		return errors.New("-workers must be 1..256")
	case c.duration < time.Second || c.duration > 10*time.Minute:
		return errors.New("-duration must be 1s..10m")
	case c.warmup < 0 || c.warmup > time.Minute:
		return errors.New("-warmup must be 0..1m")
	case c.codes < 1 || c.codes > 200000 || c.warmupCodes < 0 || c.warmupCodes > 20000:
		return errors.New("-codes must be 1..200000, -warmup-codes 0..20000")
	}
	c.issuer = strings.TrimRight(c.issuer, "/")
	for f := range strings.SplitSeq(*pids, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return fmt.Errorf("-pid: %q is not a process ID", f)
		}
		c.pids = append(c.pids, n)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	d := newDriver(c)
	var load func(context.Context) (*result, error)
	switch c.scenario {
	case scCheck:
		return d.check(ctx)
	case scTokens:
		return d.printTokens(ctx)
	case scArgon2:
		return argon2Verify(c.argon2N, c.gcPercent)
	case scCode:
		load = d.loadCode
	case scRefresh:
		load = d.loadRefresh
	case scIntrospect, scIntroCC, scIntroReresh, scIntroOpaque, scIntroCCOpq:
		load = d.loadIntrospect
	case scSAML:
		if c.target != "gatehouse" || c.samlSP == "" {
			return errors.New("saml: Gatehouse only, with -saml-sp")
		}
		load = d.loadSAML
	case scLogin:
		if c.target != "gatehouse" {
			return errors.New("login: oidc-provider has no login page of its own (interactions are the application's)")
		}
		load = d.loadLogin
	default:
		return fmt.Errorf("unknown -scenario %q", c.scenario)
	}
	r, err := load(ctx)
	if err != nil {
		return err
	}
	fmt.Println(r.line(c.label))
	if r.bad > 0 {
		fmt.Printf("FLOW_FIRST_BAD %s\n", strings.ReplaceAll(r.firstBad, "\n", " "))
	}
	return nil
}

// ---------------------------------------------------------------------------
// HTTP.

type driver struct {
	c         config
	transport *http.Transport
	client    *http.Client // no cookies, no redirects
	slow      *http.Client // the same with a long timeout, for minting
}

func newDriver(c config) *driver {
	t := &http.Transport{
		MaxIdleConns: c.workers * 2, MaxIdleConnsPerHost: c.workers * 2, MaxConnsPerHost: 0,
		IdleConnTimeout: 30 * time.Second, DisableCompression: true,
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &driver{c: c, transport: t,
		client: &http.Client{Transport: t, Timeout: c.timeout, CheckRedirect: noRedirect},
		slow:   &http.Client{Transport: t, Timeout: 2 * time.Minute, CheckRedirect: noRedirect},
	}
}

// opaque is the driver with the clients whose access tokens are opaque
// (Gatehouse, when given), else d itself.
func (d *driver) opaque() *driver {
	o := *d
	if d.c.opaqueID != "" {
		o.c.clientID, o.c.secret = d.c.opaqueID, d.c.opaqueKey
	}
	if d.c.ccOpaqueID != "" {
		o.c.ccID, o.c.ccSecret = d.c.ccOpaqueID, d.c.ccOpaqueKey
	}
	return &o
}

func (d *driver) tokenURL() string {
	if d.c.target == "gatehouse" {
		return d.c.issuer + "/oauth/token"
	}
	return d.c.issuer + "/token"
}

func (d *driver) introspectURL() string {
	if d.c.target == "gatehouse" {
		return d.c.issuer + "/oauth/introspect"
	}
	return d.c.issuer + "/token/introspection"
}

// basic is RFC 6749 §2.3.1 client_secret_basic: form-encode, then base64.
func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

type response struct {
	status int
	body   []byte
	header http.Header
}

func (d *driver) do(ctx context.Context, c *http.Client, method, u, auth string, body []byte, hdr map[string]string) (*response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &response{status: resp.StatusCode, body: b, header: resp.Header}, nil
}

func (d *driver) post(ctx context.Context, u, auth string, form url.Values) (*response, error) {
	return d.do(ctx, d.client, "POST", u, auth, []byte(form.Encode()), nil)
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
}

func (d *driver) token(ctx context.Context, form url.Values) (*tokenResponse, error) {
	r, err := d.post(ctx, d.tokenURL(), basic(d.c.clientID, d.c.secret), form)
	if err != nil {
		return nil, err
	}
	return parseToken(r)
}

func parseToken(r *response) (*tokenResponse, error) {
	if r.status != 200 {
		return nil, fmt.Errorf("token endpoint: %d %.300s", r.status, r.body)
	}
	var t tokenResponse
	if err := json.Unmarshal(r.body, &t); err != nil || t.AccessToken == "" {
		return nil, fmt.Errorf("token endpoint: bad answer %.300s", r.body)
	}
	return &t, nil
}

// PKCE (RFC 7636 §4.1, S256): one verifier for every code; its cost at the
// token endpoint is one SHA-256 either way.
var (
	pkceVerifier  = randomString()
	pkceChallenge = s256(pkceVerifier)
)

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func s256(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func (d *driver) codeForm(code string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {d.c.redirect}, "code_verifier": {pkceVerifier}}
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

// ---------------------------------------------------------------------------
// Gatehouse: the login flow over HTTP, as a browser without JavaScript.

// authorizeURL is an authorization request of the web client with PKCE.
func (d *driver) authorizeURL() string {
	q := url.Values{
		"client_id": {d.c.clientID}, "redirect_uri": {d.c.redirect}, "response_type": {"code"},
		"scope": {"openid offline_access api"}, "state": {"s"}, "nonce": {"n"},
		"code_challenge": {pkceChallenge}, "code_challenge_method": {"S256"},
	}
	return d.c.issuer + "/oauth/authorize?" + q.Encode()
}

var (
	formAction  = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

// browser is one user agent: its own cookie jar, no redirects followed.
func (d *driver) browser() *http.Client { return d.browserVia(d.transport) }

func (d *driver) browserVia(t http.RoundTripper) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Transport: t, Jar: jar, Timeout: d.c.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// clientTransports are one transport per login worker, each connecting from
// its own loopback address 127.0.0.<2+i> (Linux routes all of 127/8 to lo),
// so that the server sees one client address per worker, as it would for
// users on their own machines. nil when the server is not on 127.0.0.1 or
// -spread-addrs is off: then every worker connects from the same address,
// and the brute-force limiter's per-address counter is shared.
func (d *driver) clientTransports() []http.RoundTripper {
	u, err := url.Parse(d.c.issuer)
	if !d.c.spreadAddrs || err != nil || u.Hostname() != "127.0.0.1" || d.c.workers > 200 {
		return nil
	}
	out := make([]http.RoundTripper, d.c.workers)
	for i := range out {
		dialer := &net.Dialer{Timeout: d.c.timeout, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}}
		out[i] = &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second, DisableCompression: true}
	}
	return out
}

// redirectBack returns the query of a 303 to the client's redirect URI.
func (d *driver) redirectBack(r *response, step string) (url.Values, error) {
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, d.c.redirect) {
		return nil, fmt.Errorf("%s: want 303 to %s, got %d %q %.200s", step, d.c.redirect, r.status, loc, r.body)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	if q.Get("code") == "" {
		return nil, fmt.Errorf("%s: no code in %s", step, loc)
	}
	return q, nil
}

// login runs the whole flow in browser b as user username: authorize, login
// page, POST, resume; it returns the authorization code. The requests it
// made are counted in *n.
func (d *driver) login(ctx context.Context, b *http.Client, username string, n *int) (string, error) {
	r, err := d.do(ctx, b, "GET", d.authorizeURL(), "", nil, nil)
	*n++
	if err != nil {
		return "", err
	}
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !strings.Contains(loc, "/login?request=") {
		return "", fmt.Errorf("authorize: want 303 to the login page, got %d %q %.200s", r.status, loc, r.body)
	}
	loginURL, err := url.Parse(d.c.issuer)
	if err != nil {
		return "", err
	}
	if loginURL, err = loginURL.Parse(loc); err != nil {
		return "", err
	}
	r, err = d.do(ctx, b, "GET", loginURL.String(), "", nil, nil)
	*n++
	if err != nil {
		return "", err
	}
	if r.status != 200 {
		return "", fmt.Errorf("login page: %d %.200s", r.status, r.body)
	}
	page := string(r.body)
	m := formAction.FindStringSubmatch(page)
	if m == nil {
		return "", fmt.Errorf("login page: no form: %.300s", page)
	}
	action, err := loginURL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		return "", err
	}
	form := url.Values{"username": {username}, "password": {d.c.password}}
	for _, h := range hiddenInput.FindAllStringSubmatch(page, -1) {
		form.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	origin := action.Scheme + "://" + action.Host
	r, err = d.do(ctx, b, "POST", action.String(), "", []byte(form.Encode()),
		map[string]string{"Origin": origin, "Sec-Fetch-Site": "same-origin"})
	*n++
	if err != nil {
		return "", err
	}
	loc = r.header.Get("Location")
	if r.status != http.StatusSeeOther || !strings.Contains(loc, "/oauth/authorize/resume") {
		return "", fmt.Errorf("login POST: want 303 to resume, got %d %q %.300s", r.status, loc, r.body)
	}
	resume, err := action.Parse(loc)
	if err != nil {
		return "", err
	}
	r, err = d.do(ctx, b, "GET", resume.String(), "", nil, nil)
	*n++
	if err != nil {
		return "", err
	}
	q, err := d.redirectBack(r, "resume")
	if err != nil {
		return "", err
	}
	return q.Get("code"), nil
}

// gatehouseSession logs in once and returns the browser holding the session.
func (d *driver) gatehouseSession(ctx context.Context) (*http.Client, string, error) {
	b := d.browser()
	var n int
	code, err := d.login(ctx, b, d.c.username, &n)
	return b, code, err
}

// gatehouseCodes makes n codes with authorize requests in the SSO session
// of b, workers at a time.
func (d *driver) gatehouseCodes(ctx context.Context, b *http.Client, n int) ([]string, error) {
	out := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, d.c.workers)
	u := d.authorizeURL()
	for range d.c.workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				r, err := d.do(ctx, b, "GET", u, "", nil, nil)
				if err == nil {
					var q url.Values
					if q, err = d.redirectBack(r, "authorize in the session"); err == nil {
						out[i] = q.Get("code")
						continue
					}
				}
				errc <- err
				return
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errc:
		return nil, err
	default:
	}
	return out, ctx.Err()
}

// ---------------------------------------------------------------------------
// oidc-provider: server.mjs's mint endpoint.

func (d *driver) mint(ctx context.Context, kind string, n int) ([]string, error) {
	var out []string
	for len(out) < n {
		batch := min(n-len(out), 1000)
		q := url.Values{"kind": {kind}, "n": {strconv.Itoa(batch)}, "code_challenge": {pkceChallenge}}
		r, err := d.do(ctx, d.slow, "POST", d.c.issuer+"/bench/mint?"+q.Encode(), "Bearer "+d.c.mintSecret, []byte{}, nil)
		if err != nil {
			return nil, err
		}
		var vals []string
		if r.status != 200 || json.Unmarshal(r.body, &vals) != nil || len(vals) != batch {
			return nil, fmt.Errorf("mint %s: %d %.300s", kind, r.status, r.body)
		}
		out = append(out, vals...)
	}
	return out, nil
}

// codes makes n authorization codes on either server.
func (d *driver) codes(ctx context.Context, session *http.Client, n int) ([]string, error) {
	if d.c.target == "gatehouse" {
		return d.gatehouseCodes(ctx, session, n)
	}
	return d.mint(ctx, "code", n)
}

// tokenSets makes n token responses of fresh user grants (code exchanges on
// Gatehouse; on oidc-provider minted refresh tokens and opaque access tokens).
func (d *driver) tokenSets(ctx context.Context, session *http.Client, n int) ([]tokenResponse, error) {
	out := make([]tokenResponse, n)
	if d.c.target == "gatehouse" {
		codes, err := d.gatehouseCodes(ctx, session, n)
		if err != nil {
			return nil, err
		}
		for i, code := range codes {
			t, err := d.token(ctx, d.codeForm(code))
			if err != nil {
				return nil, err
			}
			if t.RefreshToken == "" {
				return nil, errors.New("code exchange gave no refresh token: does the app allow offline_access and the refresh grant?")
			}
			out[i] = *t
		}
		return out, nil
	}
	rts, err := d.mint(ctx, "refresh", n)
	if err != nil {
		return nil, err
	}
	ats, err := d.mint(ctx, "access", n)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i] = tokenResponse{AccessToken: ats[i], RefreshToken: rts[i]}
	}
	return out, nil
}

// session logs in on Gatehouse (nil on oidc-provider).
func (d *driver) session(ctx context.Context) (*http.Client, error) {
	if d.c.target != "gatehouse" {
		return nil, nil
	}
	b, _, err := d.gatehouseSession(ctx)
	return b, err
}

// ccToken gets a client_credentials access token of the s2s client:
// Gatehouse's is a JWT, oidc-provider's opaque (its opaque resource server).
func (d *driver) ccToken(ctx context.Context) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}
	if d.c.target != "gatehouse" {
		form.Set("resource", "urn:gatehouse-bench:opaque")
	}
	r, err := d.post(ctx, d.tokenURL(), basic(d.c.ccID, d.c.ccSecret), form)
	if err != nil {
		return "", err
	}
	t, err := parseToken(r)
	if err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

func (d *driver) introspect(ctx context.Context, token, hint string) (*response, error) {
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	return d.post(ctx, d.introspectURL(), basic(d.c.rsID, d.c.rsSecret), form)
}

func active(r *response) bool {
	var v struct {
		Active bool `json:"active"`
	}
	return r.status == 200 && json.Unmarshal(r.body, &v) == nil && v.Active
}

// check runs each scenario's requests once and prints what came back.
func (d *driver) check(ctx context.Context) error {
	session, err := d.session(ctx)
	if err != nil {
		return err
	}
	codes, err := d.codes(ctx, session, 1)
	if err != nil {
		return err
	}
	t, err := d.token(ctx, d.codeForm(codes[0]))
	if err != nil {
		return fmt.Errorf("code exchange: %w", err)
	}
	if strings.Count(t.AccessToken, ".") != 2 || strings.Count(t.IDToken, ".") != 2 || t.RefreshToken == "" {
		return fmt.Errorf("code exchange: want a JWT access token, an ID token and a refresh token, got %+v", t)
	}
	fmt.Fprintf(os.Stderr, "    code exchange: JWT access token %s, ID token %s, refresh token\n", jwtHeader(t.AccessToken), jwtHeader(t.IDToken))
	t2, err := d.token(ctx, refreshForm(t.RefreshToken))
	if err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	if t2.RefreshToken == "" || t2.RefreshToken == t.RefreshToken || t2.IDToken == "" {
		return fmt.Errorf("refresh: want a new refresh token and an ID token, got %+v", t2)
	}
	fmt.Fprintf(os.Stderr, "    refresh: rotated; JWT access token %s, ID token %s\n", jwtHeader(t2.AccessToken), jwtHeader(t2.IDToken))
	sets, err := d.tokenSets(ctx, session, 1)
	if err != nil {
		return err
	}
	cc, err := d.ccToken(ctx)
	if err != nil {
		return fmt.Errorf("client_credentials: %w", err)
	}
	checks := []struct{ name, token, hint string }{
		{"user access token", sets[0].AccessToken, ""},
		{"client_credentials access token", cc, ""},
		{"refresh token", sets[0].RefreshToken, "refresh_token"},
	}
	if o := d.opaque(); o.c.clientID != d.c.clientID || o.c.ccID != d.c.ccID {
		osets, err := o.tokenSets(ctx, session, 1)
		if err != nil {
			return err
		}
		occ, err := o.ccToken(ctx)
		if err != nil {
			return err
		}
		checks = append(checks, struct{ name, token, hint string }{"user access token of the opaque client", osets[0].AccessToken, ""},
			struct{ name, token, hint string }{"client_credentials access token of the opaque client", occ, ""})
	}
	for _, x := range checks {
		r, err := d.introspect(ctx, x.token, x.hint)
		if err != nil {
			return err
		}
		if !active(r) {
			return fmt.Errorf("introspection of the %s: %d %.300s", x.name, r.status, r.body)
		}
		kind := "opaque"
		if strings.HasPrefix(x.token, "ey") && strings.Count(x.token, ".") == 2 {
			kind = "JWT"
		}
		fmt.Fprintf(os.Stderr, "    introspection of the %s (%s): %s\n", x.name, kind, bytes.TrimSpace(r.body))
	}
	if d.c.target == "gatehouse" {
		b := d.browser()
		var n int
		code, err := d.login(ctx, b, d.c.username, &n)
		if err != nil {
			return fmt.Errorf("login flow: %w", err)
		}
		if _, err := d.token(ctx, d.codeForm(code)); err != nil {
			return fmt.Errorf("login flow: %w", err)
		}
		fmt.Fprintf(os.Stderr, "    login flow: %d requests and the code exchange\n", n)
	}
	return nil
}

// printTokens prints one token of each kind to introspect, as
// FLOW_TOKEN NAME VALUE lines: access (a user grant's access token), cc (a
// client_credentials access token), refresh (a refresh token),
// access-opaque and cc-opaque (the same from the opaque clients).
func (d *driver) printTokens(ctx context.Context) error {
	session, err := d.session(ctx)
	if err != nil {
		return err
	}
	sets, err := d.tokenSets(ctx, session, 1)
	if err != nil {
		return err
	}
	cc, err := d.ccToken(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("FLOW_TOKEN access %s\nFLOW_TOKEN cc %s\nFLOW_TOKEN refresh %s\n", sets[0].AccessToken, cc, sets[0].RefreshToken)
	o := d.opaque()
	if o.c.clientID != d.c.clientID {
		if sets, err = o.tokenSets(ctx, session, 1); err != nil {
			return err
		}
	}
	if o.c.ccID != d.c.ccID {
		if cc, err = o.ccToken(ctx); err != nil {
			return err
		}
	}
	fmt.Printf("FLOW_TOKEN access-opaque %s\nFLOW_TOKEN cc-opaque %s\n", sets[0].AccessToken, cc)
	return nil
}

// argon2Verify times n password checks with Gatehouse's parameters
// (user.DefaultParams), one after the other, and prints
// FLOW_ARGON2 params=… n=N median_ms=… min_ms=… cpu_ms=… (process CPU per
// check, garbage collection of the 19 MiB included, as a server pays it:
// with the GC target of `gatehouse serve`, -gc-percent).
func argon2Verify(n, gcPercent int) error {
	if n < 1 || n > 1000 {
		return errors.New("-argon2-n must be 1..1000")
	}
	if gcPercent > 0 {
		debug.SetGCPercent(gcPercent)
	}
	p := user.DefaultParams()
	h, err := user.HashPassword("correct horse battery staple", p)
	if err != nil {
		return err
	}
	times := make([]time.Duration, n)
	c0 := procTicks("/proc/self/stat")
	for i := range times {
		t0 := time.Now()
		ok, _, err := user.VerifyPassword(h, "correct horse battery staple", p)
		times[i] = time.Since(t0)
		if err != nil || !ok {
			return fmt.Errorf("verify: %v %v", ok, err)
		}
	}
	cpu := float64(procTicks("/proc/self/stat")-c0) / float64(clkTck()) / float64(n)
	slices.Sort(times)
	fmt.Printf("FLOW_ARGON2 params=m=%d,t=%d,p=%d gogc=%d n=%d median_ms=%.1f min_ms=%.1f cpu_ms=%.1f\n", p.Memory, p.Time, p.Threads,
		debug.SetGCPercent(-1), n, pct(times, 50).Seconds()*1000, times[0].Seconds()*1000, cpu*1000)
	return nil
}

func jwtHeader(t string) string {
	h, _, _ := strings.Cut(t, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "?"
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// Load.

// op is one measured operation of a worker; it returns whether it
// succeeded, or an error for a transport failure.
type op func(ctx context.Context, worker int) (ok bool, detail string, err error)

type result struct {
	ops, bad, sockErr   int64
	firstBad            string
	elapsed             time.Duration
	lat                 []time.Duration
	serverTicks, selfTk int64
	dbTicks, proxyTicks int64
	dbRows              int64
	machine, steal      int64
	rssKiB              int64
	ticksPerSec         int64
	ncpu                int
}

// line is the result in bench/run.sh's column order, '|'-separated:
// label|ops/s|ops|non-2xx|socket errs|p50 ms|p99 ms|CPU s|CPU us/op|RSS MiB|driver CPU s|other %|steal %|DB CPU s|DB rows/op|proxy CPU s
func (r *result) line(label string) string {
	sec := r.elapsed.Seconds()
	hz := float64(r.ticksPerSec)
	cpu := float64(r.serverTicks) / hz
	all := hz * sec * float64(r.ncpu)
	other := math.Max(0, float64(r.machine-r.serverTicks-r.selfTk-r.dbTicks-r.proxyTicks)/all*100)
	perOp, rowsPerOp := 0.0, 0.0
	if r.ops > 0 {
		perOp = cpu * 1e6 / float64(r.ops)
		rowsPerOp = float64(r.dbRows) / float64(r.ops)
	}
	return fmt.Sprintf("FLOW_RESULT %s|%.0f|%d|%d|%d|%.2f|%.2f|%.2f|%.1f|%.0f|%.2f|%.0f|%.0f|%.2f|%.2f|%.2f",
		label, float64(r.ops)/sec, r.ops, r.bad, r.sockErr, pct(r.lat, 50).Seconds()*1000, pct(r.lat, 99).Seconds()*1000,
		cpu, perOp, float64(r.rssKiB)/1024, float64(r.selfTk)/hz, other, float64(r.steal)/all*100,
		float64(r.dbTicks)/hz, rowsPerOp, float64(r.proxyTicks)/hz)
}

func pct(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(l)))) - 1
	return l[max(0, min(i, len(l)-1))]
}

// run runs f on every worker until the deadline, or until f reports that
// its supply is exhausted (errExhausted).
func (d *driver) runPhase(ctx context.Context, dur time.Duration, measure bool, f op) (*result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	deadline := time.Now().Add(dur)
	type wres struct {
		ops, bad, sock int64
		firstBad       string
		lat            []time.Duration
		err            error
	}
	res := make([]wres, d.c.workers)
	var before, after snapshot
	if measure {
		before = d.snap()
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range d.c.workers {
		wg.Go(func() {
			me := &res[w]
			me.lat = make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				ok, detail, err := f(ctx, w)
				if errors.Is(err, errExhausted) {
					return
				}
				me.lat = append(me.lat, time.Since(t0))
				me.ops++
				switch {
				case errors.Is(err, errStop):
					// Counted as a failure; this worker has nothing left to send.
					me.bad++
					if me.firstBad == "" {
						me.firstBad = detail
					}
					return
				case err != nil && ctx.Err() == nil:
					me.sock++
					me.bad++
					if me.firstBad == "" {
						me.firstBad = err.Error()
					}
					if me.sock > 100 {
						me.err = fmt.Errorf("too many transport errors, last: %w", err)
						cancel()
						return
					}
				case !ok:
					me.bad++
					if me.firstBad == "" {
						me.firstBad = detail
					}
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if measure {
		after = d.snap()
	}
	r := &result{elapsed: elapsed, ticksPerSec: clkTck(), ncpu: ncpu()}
	for _, w := range res {
		if w.err != nil {
			return nil, w.err
		}
		r.ops += w.ops
		r.bad += w.bad
		r.sockErr += w.sock
		if r.firstBad == "" {
			r.firstBad = w.firstBad
		}
		r.lat = append(r.lat, w.lat...)
	}
	slices.Sort(r.lat)
	if measure {
		r.serverTicks, r.selfTk = after.server-before.server, after.self-before.self
		r.proxyTicks, r.dbRows = after.proxy-before.proxy, after.dbRows-before.dbRows
		for pid, t := range after.db {
			// A backend that started during the run counts from zero; one
			// that ended during it is lost (the pool keeps its connections).
			r.dbTicks += t - before.db[pid]
		}
		r.machine, r.steal = after.machine-before.machine, after.steal-before.steal
		r.rssKiB = after.rss
	}
	return r, nil
}

var (
	// errExhausted: an operation had nothing left to use (codes); the
	// worker stops and the operation is not counted.
	errExhausted = errors.New("supply exhausted")
	// errStop: the operation failed and the worker cannot go on (a broken
	// refresh chain); it is counted as a failure.
	errStop = errors.New("worker stopped")
)

// load runs an unmeasured warm-up, then the measured phase.
func (d *driver) load(ctx context.Context, f op) (*result, error) {
	if d.c.warmup > 0 {
		if _, err := d.runPhase(ctx, d.c.warmup, false, f); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	return d.runPhase(ctx, d.c.duration, true, f)
}

// loadCode: each operation exchanges one fresh code.
func (d *driver) loadCode(ctx context.Context) (*result, error) {
	session, err := d.session(ctx)
	if err != nil {
		return nil, err
	}
	exchange := func(codes []string) op {
		var next atomic.Int64
		return func(ctx context.Context, _ int) (bool, string, error) {
			i := int(next.Add(1)) - 1
			if i >= len(codes) {
				return false, "", errExhausted
			}
			r, err := d.post(ctx, d.tokenURL(), basic(d.c.clientID, d.c.secret), d.codeForm(codes[i]))
			if err != nil {
				return false, "", err
			}
			return r.status == 200, fmt.Sprintf("%d %.200s", r.status, r.body), nil
		}
	}
	if d.c.warmup > 0 && d.c.warmupCodes > 0 {
		codes, err := d.codes(ctx, session, d.c.warmupCodes)
		if err != nil {
			return nil, err
		}
		if _, err := d.runPhase(ctx, d.c.warmup, false, exchange(codes)); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	t0 := time.Now()
	codes, err := d.codes(ctx, session, d.c.codes)
	if err != nil {
		return nil, err
	}
	made := time.Since(t0)
	fmt.Fprintf(os.Stderr, "    made %d codes in %.1f s\n", len(codes), made.Seconds())
	// Codes live 60 s (Gatehouse at most, R-OID-2; oidc-provider as set):
	// the measured run must end before the first ones expire.
	dur := d.c.duration
	if limit := 55*time.Second - made; dur > limit {
		if limit < time.Second {
			return nil, fmt.Errorf("making %d codes took %.0f s: too long for codes that live 60 s; lower -codes", d.c.codes, made.Seconds())
		}
		dur = limit
	}
	r, err := d.runPhase(ctx, dur, true, exchange(codes))
	if err != nil {
		return nil, err
	}
	if r.ops >= int64(len(codes)) {
		fmt.Fprintf(os.Stderr, "    all %d codes used after %.1f s (raise -codes for a longer run)\n", len(codes), r.elapsed.Seconds())
	}
	return r, nil
}

// loadRefresh: each worker rotates its own refresh token, one per operation.
func (d *driver) loadRefresh(ctx context.Context) (*result, error) {
	session, err := d.session(ctx)
	if err != nil {
		return nil, err
	}
	sets, err := d.tokenSets(ctx, session, d.c.workers)
	if err != nil {
		return nil, err
	}
	chain := make([]string, d.c.workers)
	for i := range sets {
		chain[i] = sets[i].RefreshToken
	}
	return d.load(ctx, func(ctx context.Context, w int) (bool, string, error) {
		r, err := d.post(ctx, d.tokenURL(), basic(d.c.clientID, d.c.secret), refreshForm(chain[w]))
		if err != nil {
			return false, "", err
		}
		t, err := parseToken(r)
		if err != nil || t.RefreshToken == "" {
			// The chain is broken: nothing more to rotate for this worker.
			return false, fmt.Sprintf("%d %.200s", r.status, r.body), errStop
		}
		chain[w] = t.RefreshToken
		return true, "", nil
	})
}

// loadIntrospect: the same token over and over.
func (d *driver) loadIntrospect(ctx context.Context) (*result, error) {
	var token, hint string
	src := d
	if d.c.scenario == scIntroOpaque || d.c.scenario == scIntroCCOpq {
		src = d.opaque()
	}
	switch d.c.scenario {
	case scIntroCC, scIntroCCOpq:
		t, err := src.ccToken(ctx)
		if err != nil {
			return nil, err
		}
		token = t
	default:
		session, err := d.session(ctx)
		if err != nil {
			return nil, err
		}
		sets, err := src.tokenSets(ctx, session, 1)
		if err != nil {
			return nil, err
		}
		token = sets[0].AccessToken
		if d.c.scenario == scIntroReresh {
			token, hint = sets[0].RefreshToken, "refresh_token"
		}
	}
	return d.load(ctx, func(ctx context.Context, _ int) (bool, string, error) {
		r, err := d.introspect(ctx, token, hint)
		if err != nil {
			return false, "", err
		}
		return active(r), fmt.Sprintf("%d %.200s", r.status, r.body), nil
	})
}

// loadSAML: each operation is an IdP-initiated SAML response for the
// signed-in user (session lookup, the user's access, the assertion signed,
// the Response signed, the participant row), the page with its POST form.
func (d *driver) loadSAML(ctx context.Context) (*result, error) {
	session, err := d.session(ctx)
	if err != nil {
		return nil, err
	}
	u := d.c.issuer + "/saml/idp-init?sp=" + url.QueryEscape(d.c.samlSP)
	return d.load(ctx, func(ctx context.Context, _ int) (bool, string, error) {
		r, err := d.do(ctx, session, http.MethodGet, u, "", nil, nil)
		if err != nil {
			return false, "", err
		}
		return r.status == http.StatusOK && bytes.Contains(r.body, []byte(`name="SAMLResponse"`)), fmt.Sprintf("%d %.200s", r.status, r.body), nil
	})
}

// loadLogin: each operation is one whole login in a new browser, ending
// with the code exchange.
func (d *driver) loadLogin(ctx context.Context) (*result, error) {
	var reqs, loginsAll atomic.Int64
	transports := d.clientTransports()
	r, err := d.load(ctx, func(ctx context.Context, w int) (bool, string, error) {
		loginsAll.Add(1)
		n := 0
		username := d.c.username
		if d.c.users > 0 {
			username += strconv.Itoa(w % d.c.users)
		}
		b := d.browser()
		if transports != nil {
			b = d.browserVia(transports[w])
		}
		code, err := d.login(ctx, b, username, &n)
		if err == nil {
			var t *tokenResponse
			t, err = d.token(ctx, d.codeForm(code))
			n++
			if err == nil && t.IDToken == "" {
				err = errors.New("no ID token")
			}
		}
		reqs.Add(int64(n))
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				return false, "", err
			}
			return false, err.Error(), nil
		}
		return true, "", nil
	})
	if err != nil {
		return nil, err
	}
	// Requests per login, warm-up included (the same every time).
	if n := reqs.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "    %.1f HTTP requests per login flow\n", float64(n)/float64(max(1, loginsAll.Load())))
	}
	return r, nil
}

// ---------------------------------------------------------------------------
// CPU accounting from /proc (Linux).

type snapshot struct {
	server, self, machine, steal, rss int64
	proxy, dbRows                     int64
	db                                map[int]int64 // database backend PID -> ticks
}

// snap reads the counters; rss is the sum of the replicas' peaks.
func (d *driver) snap() snapshot {
	var s snapshot
	for _, pid := range d.c.pids {
		s.server += procTicks(fmt.Sprintf("/proc/%d/stat", pid))
		s.rss += vmHWM(pid)
	}
	if d.c.proxyPID > 0 {
		s.proxy = procTicks(fmt.Sprintf("/proc/%d/stat", d.c.proxyPID))
	}
	if d.c.dbProbe != "" {
		s.dbRows, s.db = dbProbe(d.c.dbProbe)
	}
	s.self = procTicks("/proc/self/stat")
	s.machine, s.steal = machineTicks()
	return s
}

// dbProbe runs the -db-probe command: "ROWS PID..." -> rows, PID -> ticks.
// A probe that fails gives zeros (the column then reads 0); its error goes
// to stderr, which bench/flow.sh keeps in the run's log.
func dbProbe(cmd string) (int64, map[int]int64) {
	out, err := exec.Command("sh", "-c", cmd).Output()
	f := strings.Fields(string(out))
	if err != nil || len(f) == 0 {
		fmt.Fprintf(os.Stderr, "flowload: -db-probe: %v, output %q\n", err, out)
		return 0, nil
	}
	rows, _ := strconv.ParseInt(f[0], 10, 64)
	ticks := make(map[int]int64, len(f)-1)
	for _, p := range f[1:] {
		if pid, err := strconv.Atoi(p); err == nil {
			ticks[pid] = procTicks(fmt.Sprintf("/proc/%d/stat", pid))
		}
	}
	return rows, ticks
}

// procTicks is utime+stime (fields 14, 15) of a process, all threads.
func procTicks(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

// machineTicks is the busy time of all CPUs (user nice system irq softirq)
// and the steal time, from /proc/stat.
func machineTicks() (busy, steal int64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	v := func(i int) int64 { n, _ := strconv.ParseInt(f[i], 10, 64); return n }
	return v(1) + v(2) + v(3) + v(6) + v(7), v(8)
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// clkTck is USER_HZ; 100 on every Linux architecture Go runs on (the
// kernel fixes it for /proc), overridable with CLK_TCK for a check.
func clkTck() int64 {
	if v, err := strconv.ParseInt(os.Getenv("CLK_TCK"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 100
}

func ncpu() int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 1
	}
	n := 0
	for l := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(l, "cpu") && len(l) > 3 && l[3] >= '0' && l[3] <= '9' {
			n++
		}
	}
	return max(n, 1)
}
