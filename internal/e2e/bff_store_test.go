package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/bff"
	"github.com/gatehouse-id/gatehouse/internal/cli"
	"github.com/gatehouse-id/gatehouse/internal/server"
)

// bffCLI runs gatehouse with args (a bff subcommand) and returns stdout,
// stderr and the exit code.
func bffCLI(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
	return out.String(), errb.String(), code
}

// Issue 10 §3, session.store: with a PostgreSQL session store, gatehouse bff
// sessions lists the signed-in browsers and gatehouse bff revoke ends them
// on the server: the browser's next call (and any copy of its cookies) is
// logged out; LogOut deletes the row; a config without a store says so.
func TestBFFSessionStore(t *testing.T) {
	pg := postgresURL(t)
	flow := newFlow(t, options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &bffFixture{flow: flow, url: "http://" + ln.Addr().String(), frontEnd: "http://127.0.0.1:1/app", origin: "http://127.0.0.1:2", domain: "acme.idcloud.example.com"}
	f.app = flow.inst.createApp(t, "acme", "--type", "web", "--name", "tms", "--first-party", "--redirect-uri", f.url+"/callback")
	f.config = writeBFFConfig(t, f, f.app.ClientID, f.app.ClientSecret)
	plain := f.config
	body, err := os.ReadFile(f.config)
	if err != nil {
		t.Fatal(err)
	}
	f.config = f.config + ".store.yaml"
	if err := os.WriteFile(f.config, append(body, []byte("session:\n  store: "+pg+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	var store *server.BFFSessions
	f.startBFF(t, ln, "30s", func(svc *bff.Service, cfg *bff.Config) {
		ring, err := cfg.Ring()
		if err != nil {
			t.Fatal(err)
		}
		st, err := server.OpenBFFSessions(context.Background(), cfg.Session.Store, cfg.PublicURL, ring)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		svc.Sessions, store = st, st
	})
	list := func() []map[string]any {
		t.Helper()
		out, errs, code := bffCLI("bff", "sessions", "--config", f.config, "-o", "json")
		var l struct {
			Items []map[string]any `json:"items"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &l) != nil {
			t.Fatalf("gatehouse bff sessions: %d %s %s", code, out, errs)
		}
		return l.Items
	}

	b := newBrowser(t)
	token, _ := f.signIn(t, b)
	items := list()
	if len(items) != 1 || items[0]["subject"] != flow.userID || items[0]["domain"] != f.domain || items[0]["id"] == "" {
		t.Fatalf("sessions after one sign-in: %v", items)
	}
	if st, _, out := f.call(t, b, f.url, "POST", bff.PathRetrieve, token, f.origin); st != 200 || out["accessToken"] == nil {
		t.Fatalf("RetrieveAccessToken with a stored session: %d %v", st, out)
	}
	before := b.client.Jar.Cookies(mustURL(t, f.url))

	if _, errs, code := bffCLI("bff", "revoke", "--config", f.config); code == 0 || !strings.Contains(errs, "exactly one of") {
		t.Errorf("revoke without a choice: %d %s", code, errs)
	}
	out, errs, code := bffCLI("bff", "revoke", "--config", f.config, "--subject", flow.userID, "-o", "json")
	if code != 0 || strings.TrimSpace(out) != `{"revoked":1}` {
		t.Fatalf("gatehouse bff revoke --subject: %d %s %s", code, out, errs)
	}
	if st, _, _ := f.call(t, b, f.url, "POST", bff.PathRetrieve, token, f.origin); st != 401 {
		t.Errorf("RetrieveAccessToken after revoke: %d, want 401", st)
	}
	if _, _, out := f.call(t, b, f.url, "GET", bff.PathCheckSession, "", ""); out["isLoggedIn"] != false {
		t.Errorf("CheckSession after revoke: %v", out)
	}
	b2 := newBrowser(t)
	b2.client.Jar.SetCookies(mustURL(t, f.url), before)
	if st, _, _ := f.call(t, b2, f.url, "POST", bff.PathRetrieve, token, f.origin); st != 401 {
		t.Errorf("a copy of the revoked session's cookies: %d, want 401", st)
	}
	if items := list(); len(items) != 0 {
		t.Errorf("sessions after revoke: %v", items)
	}

	// A new sign-in, then LogOut: the row goes with the cookies.
	token, _ = f.signIn(t, b)
	if items := list(); len(items) != 1 {
		t.Fatalf("sessions after the second sign-in: %v", items)
	}
	if st, _, _ := f.call(t, b, f.url, "POST", bff.PathLogOut, token, f.origin); st != 200 {
		t.Fatalf("LogOut: %d", st)
	}
	if items := list(); len(items) != 0 {
		t.Errorf("sessions after LogOut: %v", items)
	}
	out, _, code = bffCLI("bff", "revoke", "--config", f.config, "--all")
	if code != 0 || !strings.Contains(out, "revoked:") || !strings.Contains(out, "0") {
		t.Errorf("gatehouse bff revoke --all (text): %d %q", code, out)
	}

	// The store down: a signed-in browser gets 503, not a session the
	// store cannot vouch for, and a sign-in cannot complete.
	token, _ = f.signIn(t, b)
	_ = store.Close()
	if st, _, out := f.call(t, b, f.url, "POST", bff.PathRetrieve, token, f.origin); st != 503 || out["accessToken"] != nil {
		t.Errorf("RetrieveAccessToken with the store down: %d %v", st, out)
	}
	if st, _, _ := f.call(t, b, f.url, "GET", bff.PathCheckSession, "", ""); st != 503 {
		t.Errorf("CheckSession with the store down: %d", st)
	}
	if p, _ := b.drive(f.url+"/Auth/Domains/"+f.domain+"/BeginLogin", f.frontEnd); p.Status != 503 || !strings.Contains(p.Body, "cannot be completed now") {
		t.Errorf("a sign-in with the store down: %d %q", p.Status, p.Body)
	}

	// gatehouse bff opens its store before it listens: an unreachable one
	// stops it at start.
	down := plain + ".down.yaml"
	if err := os.WriteFile(down, append(body, []byte("session:\n  store: postgres://postgres@127.0.0.1:1/none?connect_timeout=2\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := bffCLI("bff", "--config", down); code == 0 || !strings.Contains(errs, "connect") {
		t.Errorf("gatehouse bff with its store unreachable: %d %s", code, errs)
	}

	if _, errs, code := bffCLI("bff", "sessions", "--config", plain); code == 0 || !strings.Contains(errs, "session.store is not set") {
		t.Errorf("sessions of a service without a store: %d %s", code, errs)
	}
}
