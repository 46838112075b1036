// Package middleware holds the HTTP middleware every request passes through:
// request IDs, access logs (paths only, never query strings or bodies, which
// may hold credentials), panic recovery, security headers, Retry-After on
// every 503, and metrics.
package middleware

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// RetryAfter is the Retry-After of a 503 that gives none of its own: a
// dependency (the database) is unreachable, and clients should come back
// shortly rather than give up.
const RetryAfter = "1"

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	if h := r.Header(); code == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
		h.Set("Retry-After", RetryAfter)
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Metrics are the HTTP metrics.
type Metrics struct {
	duration *prometheus.HistogramVec
}

// NewMetrics registers the HTTP metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "gatehouse_http_request_duration_seconds",
		Help:    "HTTP request latency by route and status.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route", "code"})}
	reg.MustRegister(m.duration)
	return m
}

// Wrap applies every middleware to h.
func Wrap(h http.Handler, log *slog.Logger, m *Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		hdr := w.Header()
		hdr.Set("X-Request-Id", id)
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "panic in handler", "request_id", id, "panic", p)
				if rec.status == 0 {
					http.Error(rec, "internal error", http.StatusInternalServerError)
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			m.duration.WithLabelValues(route, strconv.Itoa(rec.status)).Observe(d.Seconds())
			if log.Enabled(r.Context(), slog.LevelDebug) || rec.status >= 500 {
				log.LogAttrs(r.Context(), slog.LevelInfo, "request",
					slog.String("request_id", id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
					slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes), slog.Duration("duration", d))
			}
		}()
		h.ServeHTTP(rec, r)
	})
}
