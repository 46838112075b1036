package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/cli"
)

func runCLI(env map[string]string, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), args, cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] },
	})
	return out.String(), errb.String(), code
}

// R-ADM-2: the CLI finds the server and credentials in flags, then the
// environment, then {data-dir}/admin.json; errors are one line and exit 1.
func TestCLICredentialsAndErrors(t *testing.T) {
	inst := start(t, options{})
	b, err := os.ReadFile(filepath.Join(inst.DataDir, "admin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var creds struct{ Server, ClientID, ClientSecret string }
	if err := json.Unmarshal(b, &struct {
		Server       *string `json:"server"`
		ClientID     *string `json:"client_id"`
		ClientSecret *string `json:"client_secret"`
	}{&creds.Server, &creds.ClientID, &creds.ClientSecret}); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()
	env := map[string]string{"GATEHOUSE_SERVER": inst.URL, "GATEHOUSE_CLIENT_ID": creds.ClientID, "GATEHOUSE_CLIENT_SECRET": creds.ClientSecret}
	if out, errs, code := runCLI(env, "--data-dir", empty, "tenant", "get", "system", "-o", "json"); code != 0 || !strings.Contains(out, `"name":"system"`) {
		t.Fatalf("env credentials: %d %s %s", code, out, errs)
	}
	// A flag beats the environment: a wrong --client-secret fails.
	_, errs, code := runCLI(env, "--data-dir", empty, "--client-secret", "wrong", "tenant", "list")
	if code != 1 || !strings.Contains(errs, "invalid_client") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("wrong secret: exit %d, stderr %q", code, errs)
	}
	// GATEHOUSE_DATA_DIR finds admin.json.
	if _, errs, code := runCLI(map[string]string{"GATEHOUSE_DATA_DIR": inst.DataDir}, "tenant", "list"); code != 0 {
		t.Fatalf("GATEHOUSE_DATA_DIR: %s", errs)
	}
	// Nothing at all: a clear one-line reason.
	_, errs, code = runCLI(nil, "--data-dir", empty, "tenant", "list")
	if code != 1 || !strings.Contains(errs, "no admin credentials") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("no credentials: exit %d, stderr %q", code, errs)
	}
	// An unreachable server.
	_, errs, code = runCLI(map[string]string{"GATEHOUSE_SERVER": "http://127.0.0.1:1", "GATEHOUSE_CLIENT_ID": "x", "GATEHOUSE_CLIENT_SECRET": "y"}, "--data-dir", empty, "tenant", "list")
	if code != 1 || strings.Count(errs, "\n") != 1 {
		t.Fatalf("unreachable: exit %d, stderr %q", code, errs)
	}
	for _, args := range [][]string{
		{"tenant", "get"},                            // missing argument
		{"app", "list"},                              // missing --tenant
		{"tenant", "list", "-o", "yaml"},             // bad output format
		{"app", "get", "--tenant", "system", "nope"}, // not found
		{"frobnicate"},
	} {
		_, errs, code := inst.cli(t, args...)
		if code != 1 || !strings.HasPrefix(errs, "gatehouse: ") || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
}

// `app update` changes what its flags say and keeps the rest.
func TestCLIAppUpdate(t *testing.T) {
	inst := start(t, options{})
	inst.createTenant(t, "acme", "ES256")
	a := inst.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb", "--description", "Portal", "--scope", "orders")
	var got struct {
		Description  string   `json:"description"`
		RedirectURIs []string `json:"redirect_uris"`
		Scopes       []string `json:"scopes"`
		Access       string   `json:"access_token_lifetime"`
		FirstParty   bool     `json:"first_party"`
	}
	inst.cliJSON(t, &got, "app", "update", "--tenant", "acme", a.ClientID, "--access-token-lifetime", "5m", "--first-party")
	if got.Description != "Portal" || len(got.RedirectURIs) != 1 || len(got.Scopes) != 1 || got.Access != "5m0s" || !got.FirstParty {
		t.Fatalf("after update: %+v", got)
	}
	_, errs, code := inst.cli(t, "app", "update", "--tenant", "acme", a.ClientID, "--type", "spa")
	if code != 1 || !strings.Contains(errs, "type") {
		t.Fatalf("type change: %d %s", code, errs)
	}
	// Text output shows the endpoints (R-APP-12).
	out, _, code := inst.cli(t, "app", "get", "--tenant", "acme", a.ClientID)
	for _, want := range []string{"endpoints.token_endpoint:", "endpoints.authorization_endpoint:", "endpoints.jwks_uri:", "endpoints.certificate_pem_url:"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("app get text output lacks %s:\n%s", want, out)
		}
	}
}
