package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/bff"
)

// bffFixture is a Gatehouse tenant and a token-management service in front
// of it, both on loopback.
type bffFixture struct {
	flow     *flowFixture
	url      string // the BFF's public URL
	frontEnd string
	origin   string
	config   string // the config file
	domain   string
	wire     wireLog    // the refresh tokens the providers handed the BFFs
	app      createdApp // the BFF's client at Gatehouse
}

// wireLog is the BFFs' HTTP transport in the tests: it reads the refresh
// tokens off the token endpoints' answers, so that a test can introspect
// what the encrypted cookies hold.
type wireLog struct {
	mu      sync.Mutex
	refresh []string
}

func (l *wireLog) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/token") {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if json.Unmarshal(body, &tok) == nil && tok.RefreshToken != "" {
		l.mu.Lock()
		l.refresh = append(l.refresh, tok.RefreshToken)
		l.mu.Unlock()
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// refreshTokens are the refresh tokens handed out so far, oldest first.
func (l *wireLog) refreshTokens() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.refresh...)
}

// startBFF runs a BFF with the fixture's config file and refresh skew;
// setup, if any, runs on the service before it serves.
func (f *bffFixture) startBFF(t *testing.T, ln net.Listener, skew string, setup ...func(*bff.Service, *bff.Config)) *bff.Service {
	t.Helper()
	body, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "bff.yaml")
	if err := os.WriteFile(p, append(body, []byte("refresh_skew: "+skew+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := bff.LoadConfig(p, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	svc, err := bff.New(cfg, &http.Client{Timeout: 10 * time.Second, Transport: &f.wire}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range setup {
		fn(svc, cfg)
	}
	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return svc
}

// ahead is a clock d ahead of the real one: the BFF thinks its tokens are
// that much older, the provider does not.
func ahead(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }

func newBFFFixture(t *testing.T) (*bffFixture, func() string) {
	t.Helper()
	f := &bffFixture{flow: newFlow(t, options{}), frontEnd: "http://127.0.0.1:1/app", origin: "http://127.0.0.1:2", domain: "acme.idcloud.example.com"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.url = "http://" + ln.Addr().String()
	web := f.flow.inst.createApp(t, "acme", "--type", "web", "--name", "tms", "--first-party", "--redirect-uri", f.url+"/callback",
		"--post-logout-redirect-uri", f.frontEnd, "--access-token-lifetime", "5m")
	f.app = web
	f.config = writeBFFConfig(t, f, web.ClientID, web.ClientSecret)
	f.startBFF(t, ln, "30s")
	// A second service with the same keys whose clock is 4m45s ahead: the
	// 5-minute access tokens are within its 30 s skew, so it refreshes.
	more := func() string {
		ln2, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f.startBFF(t, ln2, "30s").Now = ahead(4*time.Minute + 45*time.Second)
		return "http://" + ln2.Addr().String()
	}
	return f, more
}

// call sends a front-end request to the BFF at base with the browser's
// cookies (for the BFF's own host) and returns status, headers and JSON.
func (f *bffFixture) call(t *testing.T, b *browser, base, method, path, token, origin string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	if token != "" {
		req.Header.Set(bff.HeaderAntiForgery, token)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header, out
}

// R-BFF-1..3, issue 10: log in through the BFF against a Gatehouse tenant,
// CheckSession, RetrieveAccessToken (no refresh due, then refreshes, five in
// parallel refreshing once), anti-forgery and CORS refusals, LogOut that
// revokes the refresh token at Gatehouse.
func TestBFFAgainstGatehouse(t *testing.T) {
	f, more := newBFFFixture(t)
	b := newBrowser(t)

	for _, tc := range []struct {
		path string
		want int
	}{{"/Auth/Domains/localhost/BeginLogin", 400}, {"/Auth/Domains/a..b.example.com/BeginLogin", 400}, {"/Auth/Domains/other.idcloud.example.com/BeginLogin", 404}} {
		if p := b.get(f.url + tc.path); p.Status != tc.want {
			t.Errorf("%s: %d, want %d", tc.path, p.Status, tc.want)
		}
	}
	st, _, out := f.call(t, b, f.url, "GET", bff.PathCheckSession, "", "")
	if st != 200 || out["isLoggedIn"] != false || out["requestVerificationToken"] == "" {
		t.Fatalf("CheckSession before login: %d %v", st, out)
	}

	token, out := f.signIn(t, b)
	for k := range out {
		if strings.Contains(strings.ToLower(k), "access") || strings.Contains(strings.ToLower(k), "refresh") {
			t.Errorf("CheckSession shows %s", k)
		}
	}

	st, hdr, out := f.call(t, b, f.url, "POST", bff.PathRetrieve, token, f.origin)
	at, _ := out["accessToken"].(string)
	if st != 200 || at == "" || out["expiresIn"].(float64) < 200 || hdr.Get("Access-Control-Allow-Origin") != f.origin || hdr.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("RetrieveAccessToken: %d %v %v", st, out, hdr)
	}
	if _, _, again := f.call(t, b, f.url, "POST", bff.PathRetrieveAlias, token, f.origin); again["accessToken"] != at {
		t.Errorf("no refresh due, yet another access token")
	}

	// Refusals: no header, a wrong one, another origin.
	if st, _, _ := f.call(t, b, f.url, "POST", bff.PathRetrieve, "", f.origin); st != 400 {
		t.Errorf("without the anti-forgery header: %d, want 400", st)
	}
	if st, _, _ := f.call(t, b, f.url, "POST", bff.PathRetrieve, token+"x", f.origin); st != 400 {
		t.Errorf("with a wrong anti-forgery header: %d, want 400", st)
	}
	if st, hdr, out := f.call(t, b, f.url, "POST", bff.PathRetrieve, token, "http://127.0.0.1:3"); st != 403 || hdr.Get("Access-Control-Allow-Origin") != "" || out["accessToken"] != nil {
		t.Errorf("from another origin: %d %v %v", st, hdr, out)
	}

	// Refresh due: five parallel calls refresh once.
	refreshing := more()
	var wg sync.WaitGroup
	got := make([]string, 5)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, out := f.call(t, b, refreshing, "POST", bff.PathRetrieve, token, f.origin)
			got[i], _ = out["accessToken"].(string)
		}()
	}
	wg.Wait()
	for _, g := range got {
		if g == "" || g == at || g != got[0] {
			t.Fatalf("parallel refreshes: %v (old %q): want one new token for all", got, at[:10])
		}
	}

	// /metrics counts the refreshes: one for the five parallel calls.
	resp, err := http.Get(refreshing + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb := new(strings.Builder)
	_, _ = io.Copy(mb, resp.Body)
	resp.Body.Close()
	if !strings.Contains(mb.String(), `gatehouse_bff_refreshes_total{result="ok"} 1`) || !strings.Contains(mb.String(), `gatehouse_bff_requests_total{endpoint="retrieve_access_token",status="200"} 5`) {
		t.Errorf("metrics after five parallel refreshing calls:\n%s", grepLines(mb.String(), "gatehouse_bff"))
	}

	rts := f.wire.refreshTokens()
	if len(rts) != 2 {
		t.Fatalf("refresh tokens from Gatehouse: %d, want 2 (login, one refresh)", len(rts))
	}
	if in := introspect(t, f.flow, f.app, rts[1]); in["active"] != true {
		t.Fatalf("the session's refresh token before LogOut: %v", in)
	}

	// LogOut revokes the refresh token: it is inactive at introspection,
	// and a copy of the session cookies from before can no longer refresh.
	before := b.client.Jar.Cookies(mustURL(t, f.url))
	st, _, out = f.call(t, b, f.url, "POST", bff.PathLogOut, token, f.origin)
	if st != 200 || !strings.HasPrefix(fmt.Sprint(out["endSessionUrl"]), f.flow.issuer+"/oauth/logout?") {
		t.Fatalf("LogOut: %d %v", st, out)
	}
	if in := introspect(t, f.flow, f.app, rts[1]); in["active"] != false {
		t.Errorf("the session's refresh token after LogOut: %v, want inactive", in)
	}
	if st, _, out := f.call(t, b, f.url, "GET", bff.PathCheckSession, "", ""); out["isLoggedIn"] != false {
		t.Errorf("CheckSession after LogOut: %d %v", st, out)
	}
	b2 := newBrowser(t)
	b2.client.Jar.SetCookies(mustURL(t, f.url), before)
	// A service 10 minutes ahead: the copied session's token has expired
	// there, and its refresh token is revoked.
	ln3, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.startBFF(t, ln3, "30s").Now = ahead(10 * time.Minute)
	if st, _, _ := f.call(t, b2, "http://"+ln3.Addr().String(), "POST", bff.PathRetrieve, token, f.origin); st != 401 {
		t.Errorf("the old session after LogOut: %d, want 401 (its refresh token is revoked)", st)
	}
}

// signIn logs alice in through the BFF and Gatehouse's login page (none
// when the browser has a Gatehouse session already) and returns the
// anti-forgery token and CheckSession's answer.
func (f *bffFixture) signIn(t *testing.T, b *browser) (string, map[string]any) {
	t.Helper()
	p, seen := b.drive(f.url+"/Auth/Domains/"+f.domain+"/BeginLogin", f.frontEnd)
	if strings.HasSuffix(p.URL.Path, "/login") {
		p = b.submit(forms(t, p)[0], map[string][]string{"username": {"alice"}, "password": {"correct horse battery"}})
		next, _ := p.URL.Parse(p.Location)
		_, seen = b.drive(next.String(), f.frontEnd)
	}
	if last := seen[len(seen)-1]; last != f.frontEnd {
		t.Fatalf("login did not end at the front end: %v", seen)
	}
	st, _, out := f.call(t, b, f.url, "GET", bff.PathCheckSession, "", f.origin)
	token, _ := out["requestVerificationToken"].(string)
	if st != 200 || out["isLoggedIn"] != true || out["workspaceDomain"] != f.domain || token == "" {
		t.Fatalf("CheckSession after login: %d %v", st, out)
	}
	return token, out
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Issue 10, bad input: a callback with a wrong state, an error from the
// provider, a replayed code, or without the login cookie gives an error page
// and no session; a tampered session cookie reads as logged out (never a
// 500).
func TestBFFBadInput(t *testing.T) {
	f, _ := newBFFFixture(t)
	loginUntilCallback := func(b *browser) string {
		t.Helper()
		p, _ := b.drive(f.url+"/Auth/Domains/"+f.domain+"/BeginLogin", f.frontEnd)
		p = b.submit(forms(t, p)[0], map[string][]string{"username": {"alice"}, "password": {"correct horse battery"}})
		next, _ := p.URL.Parse(p.Location)
		_, seen := b.drive(next.String(), f.url+"/callback")
		return seen[len(seen)-1]
	}
	loggedIn := func(b *browser) bool {
		_, _, out := f.call(t, b, f.url, "GET", bff.PathCheckSession, "", "")
		return out["isLoggedIn"] == true
	}

	b := newBrowser(t)
	cb := loginUntilCallback(b)
	u := mustURL(t, cb)
	q := u.Query()
	for name, mutate := range map[string]func(q url.Values){
		"wrong state":         func(q url.Values) { q.Set("state", "nope") },
		"error from provider": func(q url.Values) { q.Del("code"); q.Set("error", "access_denied") },
	} {
		q2 := url.Values{}
		for k, v := range q {
			q2[k] = v
		}
		mutate(q2)
		u.RawQuery = q2.Encode()
		b2 := newBrowser(t)
		cb2 := loginUntilCallback(b2)
		st := mustURL(t, cb2).Query().Get("state")
		if name == "error from provider" {
			q2.Set("state", st)
			u.RawQuery = q2.Encode()
		}
		if p := b2.get(u.String()); p.Status != 400 || loggedIn(b2) {
			t.Errorf("%s: %d %s, logged in %v", name, p.Status, pageText(p.Body), loggedIn(b2))
		}
	}
	if p := b.get(cb); p.Status != 302 || !loggedIn(b) {
		t.Fatalf("the real callback: %d %s", p.Status, pageText(p.Body))
	}
	b3 := newBrowser(t)
	if p := b3.get(cb); p.Status != 400 || loggedIn(b3) {
		t.Errorf("a replayed callback without the login cookie: %d", p.Status)
	}

	// Tampered session cookie: logged out, 401, never 500.
	var cs []*http.Cookie
	for _, c := range b.client.Jar.Cookies(mustURL(t, f.url)) {
		if c.Name == "tms-session" {
			c.Value = c.Value[:len(c.Value)-3] + "AAA"
		}
		cs = append(cs, c)
	}
	b4 := newBrowser(t)
	b4.client.Jar.SetCookies(mustURL(t, f.url), cs)
	if loggedIn(b4) {
		t.Error("a tampered session cookie reads as logged in")
	}
	_, _, out := f.call(t, b4, f.url, "GET", bff.PathCheckSession, "", "")
	if st, _, _ := f.call(t, b4, f.url, "POST", bff.PathRetrieve, out["requestVerificationToken"].(string), f.origin); st != 401 {
		t.Errorf("RetrieveAccessToken with a tampered session: %d, want 401", st)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// writeBFFConfig writes the BFF's base config (no refresh_skew: startBFF
// adds it) for the fixture's Gatehouse tenant and returns its path.
func writeBFFConfig(t *testing.T, f *bffFixture, clientID, secret string) string {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	p := filepath.Join(t.TempDir(), "base.yaml")
	cfg := fmt.Sprintf(`public_url: %s
client:
  client_id: %s
  client_secret: %s
front_end:
  redirect_url: %s
  cors_origin: %s
domains:
  %s: %s
cookie:
  keys: ["%s"]
`, f.url, clientID, secret, f.frontEnd, f.origin, f.domain, f.flow.issuer, base64.StdEncoding.EncodeToString(key))
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
