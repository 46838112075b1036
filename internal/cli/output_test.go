package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/cli"
)

// forged is a value stored before control characters were refused: it
// would clear the line, print a fake row and colour the rest red.
const forged = "Acme\r\x1b[2KID  NAME\n\x1b[31mevil\u009b0m\x07"

// fakeAdmin answers the token request and a few admin API reads with
// values holding control characters.
func fakeAdmin(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /t/system/oauth/token", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"tok","token_type":"Bearer","expires_in":3600}`))
	})
	send := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /admin/v1/tenants/acme", func(w http.ResponseWriter, _ *http.Request) {
		send(w, 200, map[string]any{"name": "acme", "display_name": forged, "signing_alg": "RS256"})
	})
	mux.HandleFunc("GET /admin/v1/tenants", func(w http.ResponseWriter, _ *http.Request) {
		send(w, 200, map[string]any{"items": []any{map[string]any{"name": "acme", "display_name": forged}}})
	})
	mux.HandleFunc("GET /admin/v1/tenants/acme/roles/viewer", func(w http.ResponseWriter, _ *http.Request) {
		send(w, 200, map[string]any{"name": "viewer", "description": forged, "permissions": []any{}})
	})
	mux.HandleFunc("GET /admin/v1/tenants/broken", func(w http.ResponseWriter, _ *http.Request) {
		send(w, 404, map[string]any{"type": "about:blank", "title": "Not Found", "status": 404, "detail": "tenant " + forged + " not found"})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func runCLI(t *testing.T, srv *httptest.Server, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := map[string]string{"GATEHOUSE_CLIENT_SECRET": "secret"}
	code := cli.Run(context.Background(), append([]string{"--server", srv.URL, "--client-id", "admin", "--data-dir", t.TempDir()}, args...), cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] },
	})
	return out.String(), errb.String(), code
}

// Issue 8 §7: text output shows control characters as escapes, so stored
// data cannot forge what the CLI prints.
func TestTextOutputEscapesControlCharacters(t *testing.T) {
	srv := fakeAdmin(t)
	const shown = `Acme\r\x1b[2KID  NAME\n\x1b[31mevil\u009b0m\x07`
	for _, args := range [][]string{
		{"tenant", "get", "acme"},
		{"tenant", "list"},
		{"role", "get", "viewer", "--tenant", "acme"},
	} {
		out, errOut, code := runCLI(t, srv, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
		if !strings.Contains(out, shown) {
			t.Errorf("%v: output %q does not show the value escaped as %q", args, out, shown)
		}
		if strings.ContainsFunc(strings.ReplaceAll(out, "\n", ""), func(r rune) bool { return r < 0x20 && r != ' ' || r >= 0x7f && r <= 0x9f }) {
			t.Errorf("%v: output holds a raw control character: %q", args, out)
		}
	}
	_, errOut, code := runCLI(t, srv, "tenant", "get", "broken")
	if code != 1 || !strings.Contains(errOut, `tenant Acme\r\x1b[2KID  NAME; \x1b[31mevil\u009b0m\x07 not found`) || strings.ContainsAny(errOut, "\r\x1b") {
		t.Errorf("error: exit %d, stderr %q", code, errOut)
	}
	// -o json stays the server's JSON, with its own escapes.
	out, _, _ := runCLI(t, srv, "-o", "json", "tenant", "get", "acme")
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil || v["display_name"] != forged {
		t.Errorf("-o json: %q (%v)", out, err)
	}
}
