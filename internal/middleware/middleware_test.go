package middleware

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestWrap(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("fine")) })
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("kaboom") })
	mux.HandleFunc("GET /down", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) })
	mux.HandleFunc("GET /later", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(503)
	})
	h := Wrap(mux, log, m)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/ok?secret=hunter2", nil))
	if w.Code != 200 || w.Body.String() != "fine" {
		t.Fatalf("%d %q", w.Code, w.Body)
	}
	for _, hdr := range []string{"X-Request-Id", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options", "Content-Security-Policy"} {
		if w.Header().Get(hdr) == "" {
			t.Errorf("missing %s", hdr)
		}
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Error("the access log holds the query string")
	}
	if !strings.Contains(logs.String(), `"path":"/ok"`) || !strings.Contains(logs.String(), `"status":200`) {
		t.Errorf("no access log line: %s", logs.String())
	}

	// A panic is a 500 for the client, logged, and the server goes on.
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/boom", nil))
	if w.Code != 500 || strings.Contains(w.Body.String(), "kaboom") {
		t.Fatalf("panic: %d %q", w.Code, w.Body)
	}
	if !strings.Contains(logs.String(), "panic in handler") {
		t.Error("panic not logged")
	}

	// Every 503 tells the client when to come back; a handler's own
	// Retry-After is kept.
	for path, want := range map[string]string{"/down": RetryAfter, "/later": "30", "/ok": ""} {
		w = httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if got := w.Header().Get("Retry-After"); got != want {
			t.Errorf("%s: Retry-After %q, want %q", path, got, want)
		}
	}

	// A caller's request id is kept; an overlong one is replaced.
	r := httptest.NewRequest("GET", "/ok", nil)
	r.Header.Set("X-Request-Id", "abc")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("X-Request-Id") != "abc" {
		t.Error("request id not kept")
	}
	r.Header.Set("X-Request-Id", strings.Repeat("x", 100))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if len(w.Header().Get("X-Request-Id")) != 16 {
		t.Error("overlong request id not replaced")
	}
	if n := testutil.CollectAndCount(reg, "gatehouse_http_request_duration_seconds"); n < 2 {
		t.Errorf("histogram series: %d", n)
	}
}
