package oidc_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/oidc"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

// fixture is a provider on a real SQLite store with one tenant and one s2s app.
type fixture struct {
	mux      *http.ServeMux
	clientID string
	secret   string
}

func newFixture(tb testing.TB, alg string) *fixture {
	tb.Helper()
	b := oidc.NewTestBase(tb, oidc.BaseOptions{Tenants: []string{"bench"}, Alg: alg})
	a, secret := b.MkApp(tb, "bench", &app.App{Name: "svc", Type: app.S2S, Scopes: []string{"api"}})
	p := &oidc.Provider{PublicURL: "http://127.0.0.1", Apps: b.Apps, Keys: b.Keys, Now: time.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: oidc.NewMetrics(prometheus.NewRegistry())}
	mux := http.NewServeMux()
	p.Register(mux)
	return &fixture{mux: mux, clientID: a.ClientID, secret: secret}
}

func (f *fixture) tokenRequest() *http.Request {
	r := httptest.NewRequest("POST", "/t/bench/oauth/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(f.clientID, f.secret)
	return r
}

// BenchmarkClientCredentials measures the whole token pipeline in process:
// parse, authenticate (SQLite lookup + HMAC), sign, encode.
func BenchmarkClientCredentials(b *testing.B) {
	for _, alg := range []string{tenant.AlgES256, tenant.AlgEdDSA, tenant.AlgRS256} {
		b.Run(alg, func(b *testing.B) {
			f := newFixture(b, alg)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				w := httptest.NewRecorder()
				f.mux.ServeHTTP(w, f.tokenRequest())
				if w.Code != 200 {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkJWKS measures serving a cached key set.
func BenchmarkJWKS(b *testing.B) {
	f := newFixture(b, tenant.AlgES256)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		f.mux.ServeHTTP(w, httptest.NewRequest("GET", "/t/bench/jwks", nil))
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

func TestFixtureIssuesTokens(t *testing.T) {
	f := newFixture(t, tenant.AlgES256)
	w := httptest.NewRecorder()
	f.mux.ServeHTTP(w, f.tokenRequest())
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"token_type":"Bearer"`) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
