package outbound

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/integration"
	"github.com/gatehouse-id/gatehouse/internal/oauth"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// Caller is who makes a call: what a live access token says.
type Caller struct {
	ClientID, UserID string
	Scopes           []string
}

// Verifier checks a bearer access token of a tenant; ok false: not live;
// err: the store could not answer.
type Verifier interface {
	Verify(ctx context.Context, tenantID, token string) (Caller, bool, error)
}

// Sessions is the browser's Gatehouse session in a tenant.
type Sessions interface {
	Session(r *http.Request, tenantID string) (*grant.Session, *user.User, error)
}

// Integrations finds a tenant's integration with its secrets.
type Integrations interface {
	Get(ctx context.Context, tenantID, name string) (*integration.Integration, error)
}

// Defaults of the bounds.
const (
	DefaultMaxRequestBytes  = 10 << 20
	DefaultMaxResponseBytes = 50 << 20
	DefaultTimeout          = 60 * time.Second
	maxQueryLen             = 8192
	maxRedirects            = 5
)

// Service serves the calls. Set the fields, then Register.
type Service struct {
	// PublicURL is the server's public URL (the OAuth callback's base).
	PublicURL    string
	Integrations Integrations
	Verifier     Verifier
	Limiter      *ratelimit.Limiter
	// Tokens keeps the OAuth tokens; Seal seals authorization states.
	Tokens TokenStore
	Seal   Sealer
	// Sessions tells whose Gatehouse session a browser has (the login
	// pages): a user's authorization completes only in that user's browser.
	Sessions Sessions
	Log      *slog.Logger
	// MaxRequestBytes and MaxResponseBytes bound the bodies (0: defaults);
	// Timeout bounds a whole call, the upstream's answer included.
	MaxRequestBytes, MaxResponseBytes int64
	Timeout                           time.Duration
	// DialTimeout bounds connecting to the upstream (10 s when 0).
	DialTimeout time.Duration

	once       sync.Once
	verified   *http.Transport
	unverified *http.Transport
	ntlmMu     sync.Mutex
	ntlm       map[string]http.RoundTripper // by tenant, name and version
	tokens     tokens
}

// Register adds the call route to mux.
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("/t/{tenant}/integrations/{name}/call/{path...}", s.call)
	mux.HandleFunc("GET /t/{tenant}"+CallbackPath, s.callback)
	mux.HandleFunc("POST /t/{tenant}"+CallbackPath, s.callback)
	mux.HandleFunc("GET /t/{tenant}"+CallbackPath+".js", serveCallbackScript)
}

func (s *Service) init() {
	s.once.Do(func() {
		if s.MaxRequestBytes == 0 {
			s.MaxRequestBytes = DefaultMaxRequestBytes
		}
		if s.MaxResponseBytes == 0 {
			s.MaxResponseBytes = DefaultMaxResponseBytes
		}
		if s.Timeout == 0 {
			s.Timeout = DefaultTimeout
		}
		if s.DialTimeout == 0 {
			s.DialTimeout = 10 * time.Second
		}
		s.verified = s.transport(false)
		s.unverified = s.transport(true)
		s.ntlm = map[string]http.RoundTripper{}
	})
}

// transport is an upstream transport; insecure skips certificate checks
// (on-premises integrations that accept unverified certificates only).
func (s *Service) transport(insecure bool) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: s.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure}, //nolint:gosec // the on-premises toggle of R-INT-1
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: s.Timeout,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
}

// problem is the JSON error a caller gets for what Gatehouse refuses or
// the upstream could not do.
type problem struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
	Detail string `json:"error_description"`
	Hint   string `json:"hint,omitempty"`
	// AuthorizationURL: where the user authorizes a service action.
	AuthorizationURL string `json:"authorization_url,omitempty"`
}

func writeProblem(w http.ResponseWriter, p problem) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// readMethods need integration:{name}; any other method :write.
func readMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// call is {public}/t/{tenant}/integrations/{name}/call/{path}.
func (s *Service) call(w http.ResponseWriter, r *http.Request) {
	s.init()
	ctx := r.Context()
	tid, name := r.PathValue("tenant"), r.PathValue("name")
	prefix := "/t/" + tid + "/integrations/" + name + "/call/"
	raw := r.URL.EscapedPath()
	if integration.ValidateName(name) != nil || !strings.HasPrefix(raw, prefix) {
		writeProblem(w, problem{Status: http.StatusNotFound, Error: "not_found", Detail: "no such integration"})
		return
	}
	tok, ok := oauth.BearerToken(r.Header.Get("Authorization"))
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		writeProblem(w, problem{Status: http.StatusUnauthorized, Error: "invalid_token", Detail: "a bearer access token of the tenant is required"})
		return
	}
	caller, live, err := s.Verifier.Verify(ctx, tid, tok)
	if err != nil {
		s.Log.ErrorContext(ctx, "integration call: token check failed", "tenant", tid, "error", err)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Error: "temporarily_unavailable", Detail: "try again shortly"})
		return
	}
	if !live {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
		writeProblem(w, problem{Status: http.StatusUnauthorized, Error: "invalid_token", Detail: "the access token is invalid, expired or revoked"})
		return
	}
	scope := "integration:" + name
	if !readMethod(r.Method) {
		scope += ":write"
	}
	if !slices.Contains(caller.Scopes, scope) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="insufficient_scope", scope="`+scope+`"`)
		writeProblem(w, problem{Status: http.StatusForbidden, Error: "insufficient_scope", Detail: "this call needs the scope " + scope})
		return
	}
	ig, err := s.Integrations.Get(ctx, tid, name)
	switch {
	case derrors.Is(err, derrors.NotFound):
		writeProblem(w, problem{Status: http.StatusNotFound, Error: "not_found", Detail: "no such integration"})
		return
	case err != nil:
		s.Log.ErrorContext(ctx, "integration call: lookup failed", "tenant", tid, "integration", name, "error", err)
		writeProblem(w, problem{Status: http.StatusServiceUnavailable, Error: "temporarily_unavailable", Detail: "try again shortly"})
		return
	}
	action := ig.ActionAuth != nil && !readMethod(r.Method)
	if action && caller.UserID == "" {
		writeProblem(w, problem{Status: http.StatusForbidden, Error: "user_required",
			Detail: "this integration's service actions act for a user: call with a user's access token"})
		return
	}
	up, p := s.upstreamRequest(r, ig, raw[len(prefix):])
	if p != nil {
		writeProblem(w, *p)
		return
	}
	if ig.RateLimit != nil {
		if p := s.limit(ctx, tid, ig); p != nil {
			if p.Status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", p.Hint)
				p.Hint = ""
			}
			writeProblem(w, *p)
			return
		}
	}
	if action {
		// A service action: as the user, with the user's own credentials
		// at the system (R-INT-3).
		s.forward(w, r, ig, up, func(ctx context.Context, up *http.Request, stale string) *problem {
			tok, p := s.oauthToken(ctx, ig, caller.UserID, stale)
			if p == nil {
				up.Header.Set("Authorization", ig.ActionAuth.HeaderPrefix+" "+tok)
			}
			return p
		}, ig.ActionAuth)
		return
	}
	s.forward(w, r, ig, up, func(ctx context.Context, up *http.Request, stale string) *problem {
		return s.authorize(ctx, ig, up, stale)
	}, &ig.ServiceAuth)
}

// upstreamRequest builds the request to the upstream, or says why not.
func (s *Service) upstreamRequest(r *http.Request, ig *integration.Integration, rawPath string) (*http.Request, *problem) {
	bad := func(status int, code, detail string) *problem {
		return &problem{Status: status, Error: code, Detail: detail}
	}
	if err := ig.Ready(); err != nil {
		return nil, bad(http.StatusServiceUnavailable, "integration_not_configured", "the integration is not fully configured (an admin must set its credentials): "+err.Error())
	}
	path, err := integration.CleanPath(rawPath)
	if err != nil {
		return nil, bad(http.StatusBadRequest, "invalid_path", err.Error())
	}
	if len(r.URL.RawQuery) > maxQueryLen {
		return nil, bad(http.StatusBadRequest, "invalid_query", "the query is too long")
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, bad(http.StatusBadRequest, "invalid_query", "the query is not well formed")
	}
	if r.ContentLength > s.MaxRequestBytes {
		return nil, bad(http.StatusRequestEntityTooLarge, "request_too_large", fmt.Sprintf("the body is larger than %d bytes", s.MaxRequestBytes))
	}
	target := ig.BaseURL + "/" + path
	if enc := q.Encode(); enc != "" {
		target += "?" + enc
	}
	var body io.Reader
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		body = http.MaxBytesReader(nil, r.Body, s.MaxRequestBytes)
	}
	up, err := http.NewRequestWithContext(r.Context(), r.Method, target, body)
	if err != nil {
		return nil, bad(http.StatusBadRequest, "invalid_request", "the request cannot be forwarded")
	}
	up.ContentLength = r.ContentLength
	skip := ""
	if a := ig.ServiceAuth; a.Method == integration.MethodAPIKey && a.In == "header" {
		skip = http.CanonicalHeaderKey(a.Name)
	}
	copyHeaders(up.Header, r.Header, requestDrop, skip)
	return up, nil
}

// hopByHop are the headers of one connection (RFC 9110 §7.6.1), never
// forwarded.
var hopByHop = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// requestDrop are the caller's headers never forwarded: hop-by-hop,
// credentials (Gatehouse's own token and cookies; the upstream gets the
// integration's) and forwarding headers the caller could forge. The header
// an API key goes in is dropped too (copyHeaders' skip).
var requestDrop = func() map[string]bool {
	d := map[string]bool{"Authorization": true, "Cookie": true, "Host": true, "Content-Length": true,
		"Forwarded": true, "X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Real-Ip": true}
	for _, h := range hopByHop {
		d[h] = true
	}
	return d
}()

// responseDrop are the upstream's headers never passed back: hop-by-hop,
// and cookies of the service account's session.
var responseDrop = func() map[string]bool {
	d := map[string]bool{"Set-Cookie": true, "Content-Length": true}
	for _, h := range hopByHop {
		d[h] = true
	}
	return d
}()

// copyHeaders copies src to dst but the dropped headers, skip, and those
// the Connection header names.
func copyHeaders(dst, src http.Header, drop map[string]bool, skip string) {
	var conn map[string]bool
	for _, v := range src.Values("Connection") {
		for _, f := range strings.Split(v, ",") {
			if conn == nil {
				conn = map[string]bool{}
			}
			conn[http.CanonicalHeaderKey(strings.TrimSpace(f))] = true
		}
	}
	for k, vs := range src {
		if drop[k] || conn[k] || k == skip {
			continue
		}
		dst[k] = append([]string(nil), vs...)
	}
}

// limit applies the integration's rate limit (R-INT-5): nil to go on, or
// the refusal (429 with the Retry-After seconds in Hint).
func (s *Service) limit(ctx context.Context, tid string, ig *integration.Integration) *problem {
	rl := ig.RateLimit
	wait := time.Duration(0)
	if rl.Policy == integration.PolicyWait {
		wait = time.Duration(rl.MaxWait)
	}
	d, err := s.Limiter.Wait(ctx, tid+"/"+ig.Name, rl.Requests, rl.Window(), wait)
	switch {
	case errors.Is(err, context.Canceled):
		return &problem{Status: 499, Error: "canceled", Detail: "the caller went away"}
	case err != nil:
		s.Log.ErrorContext(ctx, "integration call: rate limiter failed", "tenant", tid, "integration", ig.Name, "error", err)
		return &problem{Status: http.StatusServiceUnavailable, Error: "temporarily_unavailable", Detail: "try again shortly"}
	case !d.Allowed:
		secs := int(math.Ceil(d.RetryAfter.Seconds()))
		return &problem{Status: http.StatusTooManyRequests, Error: "rate_limited",
			Detail: fmt.Sprintf("the integration allows %d requests per %s", rl.Requests, rl.Per), Hint: strconv.Itoa(max(1, secs))}
	}
	return nil
}
