package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/Azure/go-ntlmssp"

	"github.com/gatehouse-id/gatehouse/internal/integration"
)

// client is the HTTP client of one call to ig: its transport (certificate
// checks on unless the on-premises toggle turns them off; NTLM on a
// transport of its own), redirects only within the base URL.
func (s *Service) client(ig *integration.Integration) *http.Client {
	var rt http.RoundTripper = s.verified
	if ig.OnPremises && ig.AcceptUnverifiedTLS {
		rt = s.unverified
	}
	if ig.ServiceAuth.Method == integration.MethodNTLM {
		rt = s.ntlmTransport(ig)
	}
	return &http.Client{
		Transport: rt,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects || !within(ig.BaseURL, req.URL.String()) {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

// within reports whether u is the base URL or below it.
func within(base, u string) bool {
	return u == base || strings.HasPrefix(u, base+"/") || strings.HasPrefix(u, base+"?")
}

// ntlmTransport is the NTLM transport of an integration: NTLM
// authenticates a connection, so each integration (and version of it) has
// its own HTTP/1.1 connections, kept for the handshake and after.
func (s *Service) ntlmTransport(ig *integration.Integration) http.RoundTripper {
	key := ig.TenantID + "\x00" + ig.Name + "\x00" + ig.UpdatedAt.String()
	s.ntlmMu.Lock()
	defer s.ntlmMu.Unlock()
	if rt, ok := s.ntlm[key]; ok {
		return rt
	}
	for k := range s.ntlm {
		if strings.HasPrefix(k, ig.TenantID+"\x00"+ig.Name+"\x00") {
			delete(s.ntlm, k)
		}
	}
	t := s.transport(ig.OnPremises && ig.AcceptUnverifiedTLS)
	t.ForceAttemptHTTP2 = false
	// An empty map turns HTTP/2 off: its multiplexing cannot carry a
	// per-connection handshake.
	t.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	rt := ntlmssp.Negotiator{RoundTripper: t}
	s.ntlm[key] = rt
	return rt
}

// authorize adds the integration's service credentials to up (R-INT-2);
// stale is an OAuth access token the upstream refused, to renew.
func (s *Service) authorize(ctx context.Context, ig *integration.Integration, up *http.Request, stale string) *problem {
	a := ig.ServiceAuth
	switch a.Method {
	case integration.MethodBasic:
		up.SetBasicAuth(a.Username, a.Password)
	case integration.MethodNTLM:
		// ntlmssp.Negotiator turns these Basic credentials into the
		// NTLM handshake; they never go out as Basic.
		up.SetBasicAuth(a.Domain+`\`+a.Username, a.Password)
	case integration.MethodBearer:
		up.Header.Set("Authorization", a.Prefix+" "+a.Token)
	case integration.MethodAPIKey:
		if a.In == "header" {
			up.Header.Set(a.Name, a.Key)
			break
		}
		// In the query: the caller's own parameter of that name goes.
		q := up.URL.Query()
		q.Set(a.Name, a.Key)
		up.URL.RawQuery = q.Encode()
	case integration.MethodOAuth2:
		tok, p := s.oauthToken(ctx, ig, "", stale)
		if p != nil {
			return p
		}
		up.Header.Set("Authorization", a.HeaderPrefix+" "+tok)
	}
	return nil
}

// forward sends up with the credentials cred adds (of auth: the service's
// or the user's) and streams the answer back.
func (s *Service) forward(w http.ResponseWriter, r *http.Request, ig *integration.Integration, up *http.Request,
	cred func(ctx context.Context, up *http.Request, stale string) *problem, auth *integration.Auth) {
	ctx, cancel := context.WithTimeout(r.Context(), s.Timeout)
	defer cancel()
	up = up.WithContext(ctx)
	if p := cred(ctx, up, ""); p != nil {
		writeProblem(w, *p)
		return
	}
	c := s.client(ig)
	resp, err := c.Do(up)
	if err == nil && resp.StatusCode == http.StatusUnauthorized && auth.Method == integration.MethodOAuth2 && up.Body == nil {
		// The upstream refused the OAuth token (expired early, revoked):
		// renew it once and try again; only a call without a body can be
		// sent twice.
		resp.Body.Close()
		refused, _ := strings.CutPrefix(up.Header.Get("Authorization"), auth.HeaderPrefix+" ")
		retry := up.Clone(ctx)
		if p := cred(ctx, retry, refused); p != nil {
			writeProblem(w, *p)
			return
		}
		resp, err = c.Do(retry)
	}
	if err != nil {
		s.upstreamFailed(w, r, ig, err)
		return
	}
	defer resp.Body.Close()
	if resp.ContentLength > s.MaxResponseBytes {
		writeProblem(w, problem{Status: http.StatusBadGateway, Error: "response_too_large",
			Detail: fmt.Sprintf("the upstream's answer is larger than %d bytes", s.MaxResponseBytes)})
		return
	}
	copyHeaders(w.Header(), resp.Header, responseDrop, "")
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", fmt.Sprint(resp.ContentLength))
	}
	w.WriteHeader(resp.StatusCode)
	buf := copyBuffers.Get().(*[]byte)
	n, err := io.CopyBuffer(w, io.LimitReader(resp.Body, s.MaxResponseBytes+1), *buf)
	copyBuffers.Put(buf)
	if n > s.MaxResponseBytes || (err != nil && ctx.Err() == nil && r.Context().Err() == nil) {
		// Too long, or cut: the status is out already, so the caller
		// learns it from a broken connection, not from a short body that
		// looks whole.
		s.Log.WarnContext(r.Context(), "integration call: answer cut", "tenant", ig.TenantID, "integration", ig.Name, "bytes", n, "error", err)
		panic(http.ErrAbortHandler)
	}
}

// copyBuffers are the buffers answers stream through.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// upstreamFailed answers a call whose upstream could not be reached or
// did not answer in time.
func (s *Service) upstreamFailed(w http.ResponseWriter, r *http.Request, ig *integration.Integration, err error) {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		writeProblem(w, problem{Status: http.StatusRequestEntityTooLarge, Error: "request_too_large", Detail: fmt.Sprintf("the body is larger than %d bytes", s.MaxRequestBytes)})
	case r.Context().Err() != nil:
		// The caller went away; nobody reads the answer.
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		writeProblem(w, problem{Status: http.StatusGatewayTimeout, Error: "upstream_timeout", Detail: fmt.Sprintf("the upstream did not answer within %s", s.Timeout)})
	default:
		s.Log.InfoContext(r.Context(), "integration call: upstream unreachable", "tenant", ig.TenantID, "integration", ig.Name, "error", err)
		writeProblem(w, problem{Status: http.StatusBadGateway, Error: "upstream_unreachable", Detail: "the upstream cannot be reached", Hint: "check the base URL and that the system is up; " + hintOf(err)})
	}
}

// hintOf says in plain words what a connection error means.
func hintOf(err error) string {
	switch s := err.Error(); {
	case strings.Contains(s, "certificate"):
		return "its TLS certificate is not trusted (an on-premises integration may accept unverified certificates)"
	case strings.Contains(s, "connection refused"):
		return "nothing listens at that address and port"
	case strings.Contains(s, "no such host"):
		return "the host name does not resolve"
	default:
		return "the connection failed"
	}
}
