package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// frontEnd serves a single-page front end on its own loopback origin: it
// asks the BFF whether it is logged in, logs in through it, retrieves an
// access token (five at once, too), calls its own API with it (which asks
// Gatehouse's UserInfo), and logs out on ?logout. It prints what it saw in
// #out.
func frontEnd(t *testing.T, ln net.Listener, bffURL, domain, userinfo string) string {
	t.Helper()
	base := "http://" + ln.Addr().String()
	page := `<!doctype html><title>front end</title><pre id="out">…</pre><script>
const tms = ` + jsString(bffURL) + `, out = document.getElementById("out");
async function token(rvt) {
  const r = await fetch(tms + "/Session/RetrieveAccessToken", {method: "POST", credentials: "include", headers: {RequestVerificationToken: rvt}});
  if (!r.ok) throw new Error("RetrieveAccessToken " + r.status);
  return (await r.json()).accessToken;
}
async function run() {
  const s = await (await fetch(tms + "/Session/CheckSession", {credentials: "include"})).json();
  if (location.search === "?logout") {
    const r = await fetch(tms + "/Auth/LogOut", {method: "POST", credentials: "include", headers: {RequestVerificationToken: s.requestVerificationToken}});
    const after = await (await fetch(tms + "/Session/CheckSession", {credentials: "include"})).json();
    out.textContent = "logged-out " + r.status + " isLoggedIn=" + after.isLoggedIn;
    return;
  }
  if (!s.isLoggedIn) { out.textContent = "login"; location.href = tms + "/Auth/Domains/` + domain + `/BeginLogin"; return; }
  if (location.search === "?five") {
    const five = await Promise.all([1, 2, 3, 4, 5].map(() => token(s.requestVerificationToken)));
    out.textContent = "five distinct=" + new Set(five).size + " last=" + five[0].slice(-16);
    return;
  }
  const first = await token(s.requestVerificationToken);
  const me = await (await fetch("/api/me", {headers: {Authorization: "Bearer " + first}})).text();
  out.textContent = "logged-in me=" + me + " last=" + first.slice(-16) + " cookies=[" + document.cookie + "]";
}
run().catch(e => { out.textContent = "error " + e; });
</script>`
	mux := http.NewServeMux()
	mux.HandleFunc("/app", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, page)
	})
	// The front end's own API: it accepts the access token if Gatehouse's
	// UserInfo does.
	mux.HandleFunc("/api/me", func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequest("GET", userinfo, nil)
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			http.Error(w, "unauthorized", 401)
			return
		}
		defer resp.Body.Close()
		var ui struct {
			Sub string `json:"sub"`
		}
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &ui)
		fmt.Fprint(w, html.EscapeString(ui.Sub))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return base + "/app"
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Issue 10 acceptance, in a real browser: a front end on a second origin logs
// in through the BFF, gets access tokens (five parallel calls refresh once)
// and calls an API with them; no token is in document.cookie; the same page
// on a third origin gets nothing (CORS); LogOut ends the session.
func TestBFFInRealBrowser(t *testing.T) {
	ctx := chrome(t)
	feLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bffLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	flow := newFlow(t, options{})
	bffURL := "http://" + bffLn.Addr().String()
	feOrigin := "http://" + feLn.Addr().String()
	web := flow.inst.createApp(t, "acme", "--type", "web", "--name", "tms", "--first-party", "--redirect-uri", bffURL+"/callback",
		"--access-token-lifetime", "5m")
	f := &bffFixture{flow: flow, url: bffURL, frontEnd: feOrigin + "/app", origin: feOrigin, domain: "acme.idcloud.example.com"}
	f.config = writeBFFConfig(t, f, web.ClientID, web.ClientSecret)
	svc := f.startBFF(t, bffLn, "30s")
	var offset atomic.Int64
	svc.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	app := frontEnd(t, feLn, bffURL, f.domain, flow.issuer+"/oauth/userinfo")

	if err := chromedp.Do(ctx, chromedp.Navigate(app), chromedp.WaitVisible(`input[name="username"]`)); err != nil {
		t.Fatalf("the front end did not reach the login page: %v", err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(`input[name="username"]`, "alice"),
		chromedp.SendKeys(`input[name="password"]`, "correct horse battery"),
		chromedp.Click(`button[type="submit"]`),
	); err != nil {
		t.Fatalf("login: %v", err)
	}
	out := waitText(t, ctx, `#out`, "logged-in", "error")
	if !strings.HasPrefix(out, "logged-in me="+flow.userID+" last=") || !strings.Contains(out, " cookies=[") || strings.Contains(out, "tms-") {
		t.Fatalf("front end: %q", out)
	}
	first := strings.Fields(out)[2]

	// 4m45s later (by the BFF's clock) the 5-minute token is due: five
	// parallel calls refresh once and all get the new token.
	offset.Store(int64(4*time.Minute + 45*time.Second))
	if err := chromedp.Do(ctx, chromedp.Navigate(app+"?five")); err != nil {
		t.Fatal(err)
	}
	if out := waitText(t, ctx, `#out`, "five", "error"); !strings.HasPrefix(out, "five distinct=1 last=") || strings.Fields(out)[2] == first {
		t.Fatalf("five parallel calls with a refresh due: %q (first token %s)", out, first)
	}

	// The same page from a third origin: CORS gives it nothing.
	thirdLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	third := frontEnd(t, thirdLn, bffURL, f.domain, flow.issuer+"/oauth/userinfo")
	if err := chromedp.Do(ctx, chromedp.Navigate(third)); err != nil {
		t.Fatal(err)
	}
	if out := waitText(t, ctx, `#out`, "error", "logged-in", "login"); !strings.HasPrefix(out, "error") {
		t.Fatalf("a third origin read the BFF: %q", out)
	}

	// Gatehouse handed out two refresh tokens (the login's, then one
	// refresh for the five calls): the first is rotated away, the second
	// is live until LogOut.
	rts := f.wire.refreshTokens()
	if len(rts) != 2 {
		t.Fatalf("refresh tokens from Gatehouse: %d, want 2 (login, one refresh)", len(rts))
	}
	if in := introspect(t, flow, web, rts[0]); in["active"] != false {
		t.Errorf("the rotated refresh token: %v", in)
	}
	if in := introspect(t, flow, web, rts[1]); in["active"] != true || in["sub"] != flow.userID {
		t.Fatalf("the session's refresh token before LogOut: %v", in)
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(app+"?logout")); err != nil {
		t.Fatal(err)
	}
	if out := waitText(t, ctx, `#out`, "logged-out", "error"); out != "logged-out 200 isLoggedIn=false" {
		t.Fatalf("logout: %q", out)
	}
	if in := introspect(t, flow, web, rts[1]); in["active"] != false {
		t.Errorf("the session's refresh token after LogOut: %v, want inactive (revoked by the BFF, RFC 7009)", in)
	}
}

// waitText polls the text of sel until it starts with one of prefixes (or
// 20 s pass) and returns it.
func waitText(t *testing.T, ctx context.Context, sel string, prefixes ...string) string {
	t.Helper()
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err == nil {
			last = s
			for _, p := range prefixes {
				if strings.HasPrefix(s, p) {
					return s
				}
			}
		}
	}
	t.Fatalf("%s never showed %v: %q", sel, prefixes, last)
	return last
}
