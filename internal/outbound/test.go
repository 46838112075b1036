package outbound

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/internal/integration"
)

// Test performs the integration's test request (its test_request, else a
// GET of the base URL) with its credentials and under its rate limit, and
// reports what happened.
func (s *Service) Test(ctx context.Context, ig *integration.Integration) integration.TestResult {
	s.init()
	method, path := http.MethodGet, ""
	if ig.Test != nil {
		method, path = ig.Test.Method, ig.Test.Path
	}
	res := integration.TestResult{Method: method}
	fail := func(p *problem) integration.TestResult {
		res.Status, res.Error, res.Detail, res.Hint = 0, p.Error, p.Detail, p.Hint
		return res
	}
	if err := ig.Ready(); err != nil {
		return fail(&problem{Error: "integration_not_configured", Detail: err.Error(), Hint: "set the integration's credentials"})
	}
	clean, err := integration.CleanPath(path)
	if err != nil {
		return fail(&problem{Error: "invalid_path", Detail: err.Error()})
	}
	target := ig.BaseURL + "/" + clean
	res.URL = target
	if a := ig.ServiceAuth; a.Method == integration.MethodAPIKey && a.In == "query" {
		// authorize adds the key to the query.
		res.URL += "?" + url.QueryEscape(a.Name) + "=REDACTED"
	}
	if ig.RateLimit != nil {
		rl := *ig.RateLimit
		rl.Policy = integration.PolicyReject
		probe := *ig
		probe.RateLimit = &rl
		if p := s.limit(ctx, ig.TenantID, &probe); p != nil {
			if p.Hint != "" && p.Error == "rate_limited" {
				p.Hint = "the integration's rate limit is used up; try again in " + p.Hint + " s"
			}
			return fail(p)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	up, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return fail(&problem{Error: "invalid_request", Detail: err.Error()})
	}
	if p := s.authorize(ctx, ig, up, ""); p != nil {
		return fail(p)
	}
	start := time.Now()
	resp, err := s.client(ig).Do(up)
	res.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		p := &problem{Error: "upstream_unreachable", Detail: "the upstream cannot be reached", Hint: "check the base URL and that the system is up; " + hintOf(err)}
		if ctx.Err() != nil {
			p = &problem{Error: "upstream_timeout", Detail: "the upstream did not answer within " + s.Timeout.String()}
		}
		return fail(p)
	}
	defer resp.Body.Close()
	res.Status, res.OK = resp.StatusCode, resp.StatusCode >= 200 && resp.StatusCode < 300
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if ct := resp.Header.Get("Content-Type"); utf8.Valid(b) && (strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") || strings.Contains(ct, "xml")) {
		res.Body = string(b)
	}
	switch {
	case res.OK:
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		res.Error, res.Hint = "upstream_refused", "the upstream refused the credentials: check them, and what the service account may do"
	case resp.StatusCode == http.StatusNotFound:
		res.Error, res.Hint = "upstream_not_found", "the upstream has nothing at this URL: check the base URL and the test path"
	default:
		res.Error, res.Hint = "upstream_error", "the upstream answered "+resp.Status
	}
	return res
}
