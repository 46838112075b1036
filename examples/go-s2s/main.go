// Command go-s2s shows both sides of a server-to-server call with a Gatehouse
// "s2s" app:
//
//   - a client that gets access tokens with the client_credentials grant
//     (golang.org/x/oauth2/clientcredentials) and calls an API with them;
//   - the API (a resource server, started in this process for the demo) that
//     validates the tokens offline with the tenant's JWKS
//     (github.com/coreos/go-oidc/v3) and checks their audience and scope.
//
// At the end the client asks Gatehouse's introspection endpoint about its
// token, which is how an API learns at once that a token was revoked.
//
// Register the app (see examples/README.md) and run:
//
//	ISSUER=http://localhost:8080/t/acme CLIENT_ID=... CLIENT_SECRET=... go run ./examples/go-s2s
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2/clientcredentials"
)

func main() {
	ctx := context.Background()
	issuer := env("ISSUER", "http://localhost:8080/t/acme")
	audience := env("AUDIENCE", "https://invoices.example.com") // registered with --audience
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		log.Fatalf("discovery: %v", err)
	}

	// The API: listens on a free loopback port for this demo.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	api := "http://" + ln.Addr().String() + "/invoices"
	go func() { log.Fatal(http.Serve(ln, protect(provider, audience, "invoices:read", invoices))) }()

	// The client: every request through this http.Client carries a Bearer
	// token, fetched (and fetched again before it expires) by x/oauth2.
	cfg := clientcredentials.Config{
		ClientID:     os.Getenv("CLIENT_ID"),
		ClientSecret: os.Getenv("CLIENT_SECRET"),
		TokenURL:     provider.Endpoint().TokenURL, // {issuer}/oauth/token
		Scopes:       []string{"invoices:read"},    // omit: every scope the app may request
	}
	resp, err := cfg.Client(ctx).Get(api)
	if err != nil {
		log.Fatalf("call: %v", err) // a token error is an *oauth2.RetrieveError inside
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Printf("GET %s -> %s\n%s\n", api, resp.Status, body)

	// Without a token the API refuses.
	resp, err = http.Get(api)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Printf("GET %s without a token -> %s\n", api, resp.Status)

	// Introspection (RFC 7662): any confidential app of the tenant may ask.
	tok, err := cfg.Token(ctx)
	if err != nil {
		log.Fatal(err)
	}
	var md struct {
		Introspection string `json:"introspection_endpoint"`
	}
	if err := provider.Claims(&md); err != nil {
		log.Fatal(err)
	}
	info, err := introspect(ctx, md.Introspection, cfg.ClientID, cfg.ClientSecret, tok.AccessToken)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("introspection: %s\n", info)
}

// protect verifies the Bearer token offline (signature with the tenant's
// JWKS, iss, aud, exp) and requires scope.
func protect(p *oidc.Provider, audience, scope string, next func(w http.ResponseWriter, caller string)) http.Handler {
	verifier := p.Verifier(&oidc.Config{ClientID: audience})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer`)
			http.Error(w, "token required", http.StatusUnauthorized)
			return
		}
		tok, err := verifier.Verify(r.Context(), raw)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		var c struct {
			ClientID string `json:"client_id"`
			Scope    string `json:"scope"`
		}
		if err := tok.Claims(&c); err != nil || !slices.Contains(strings.Fields(c.Scope), scope) {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+scope+`"`)
			http.Error(w, "insufficient scope", http.StatusForbidden)
			return
		}
		next(w, c.ClientID)
	})
}

func invoices(w http.ResponseWriter, caller string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"caller":   caller,
		"invoices": []string{"INV-1001", "INV-1002"},
	})
}

// introspect asks Gatehouse whether token is active, authenticating with
// client_secret_basic.
func introspect(ctx context.Context, endpoint, id, secret, token string) (string, error) {
	form := url.Values{"token": {token}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("introspection: %s %s", resp.Status, b)
	}
	return strings.TrimSpace(string(b)), err
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
