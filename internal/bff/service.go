package bff

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// Paths of R-BFF-2, as in seed 001.
const (
	PathCheckSession  = "/Session/CheckSession"
	PathRetrieve      = "/Session/RetrieveAccessToken"
	PathRetrieveAlias = "/Session/RetrieveToken"
	PathBeginLogin    = "/Auth/BeginLogin"
	PathLogOut        = "/Auth/LogOut"
	// HeaderAntiForgery carries the request token of CheckSession.
	HeaderAntiForgery = "RequestVerificationToken"
)

// Cookie names (without the __Host- prefix).
const (
	cookieSession = "tms-session"
	cookieLogin   = "tms-login"
	cookieCSRF    = "tms-csrf"
	// loginLifetime bounds the time between BeginLogin and the callback.
	loginLifetime = 10 * time.Minute
	csrfLifetime  = 24 * time.Hour
)

// session is what the session cookie holds: the user's tokens, never seen
// by the front end but the access token through RetrieveAccessToken.
type session struct {
	SID     string `json:"sid"`
	Domain  string `json:"d"`
	Issuer  string `json:"i"`
	Access  string `json:"a"`
	Refresh string `json:"r,omitempty"`
	IDToken string `json:"t,omitempty"`
	Expiry  int64  `json:"e"`
	// Issued is when the access token came, by the service's clock.
	Issued int64  `json:"n"`
	Scope  string `json:"s,omitempty"`
}

// sessionVersion is the first byte of a session's binary encoding.
const sessionVersion = 1

// MarshalBinary encodes the session: a version byte, then each string as a
// uvarint length and its bytes, then the two times as varints. JSON cost a
// third of RetrieveAccessToken's CPU.
func (sess *session) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 64+len(sess.SID)+len(sess.Domain)+len(sess.Issuer)+len(sess.Access)+len(sess.Refresh)+len(sess.IDToken)+len(sess.Scope))
	b = append(b, sessionVersion)
	for _, f := range []string{sess.SID, sess.Domain, sess.Issuer, sess.Access, sess.Refresh, sess.IDToken, sess.Scope} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = binary.AppendVarint(b, sess.Expiry)
	return binary.AppendVarint(b, sess.Issued), nil
}

var errNotSession = errors.New("bff: not a session")

// UnmarshalBinary decodes MarshalBinary's encoding, refusing anything else
// (varints too must be in their shortest form).
func (sess *session) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != sessionVersion {
		return errNotSession
	}
	b = b[1:]
	for _, f := range [...]*string{&sess.SID, &sess.Domain, &sess.Issuer, &sess.Access, &sess.Refresh, &sess.IDToken, &sess.Scope} {
		n, k := binary.Uvarint(b)
		if k <= 0 || k != uvarintLen(n) || n > uint64(len(b)-k) {
			return errNotSession
		}
		*f = string(b[k : k+int(n)])
		b = b[k+int(n):]
	}
	for i, t := range [...]*int64{&sess.Expiry, &sess.Issued} {
		v, k := binary.Varint(b)
		// Varint's zigzag form: the shortest encoding of v is that of
		// the uvarint it maps to.
		if k <= 0 || k != uvarintLen(uint64(v)<<1^uint64(v>>63)) || (i == 1 && k != len(b)) {
			return errNotSession
		}
		*t, b = v, b[k:]
	}
	return nil
}

// uvarintLen is the length of the shortest uvarint encoding of n.
func uvarintLen(n uint64) int {
	k := 1
	for ; n >= 0x80; n >>= 7 {
		k++
	}
	return k
}

// loginState is the short-lived cookie of a login in progress.
type loginState struct {
	State, Nonce, Verifier, Domain string
}

// SessionStore keeps the service's sessions on the server as well as in
// the cookies (session.store), so that an operator can end them there. It
// holds no token: a session is known by StoredID of its ID.
type SessionStore interface {
	Create(ctx context.Context, s StoredSession) error
	// Live reports whether the session exists and has not expired at now.
	Live(ctx context.Context, id string, now time.Time) (bool, error)
	// Extend moves a session's expiry (the sliding idle timeout).
	Extend(ctx context.Context, id string, expires time.Time) error
	Delete(ctx context.Context, id string) error
}

// StoredSession is what a SessionStore keeps of a session.
type StoredSession struct {
	ID, Subject, Domain, Issuer string
	Created, Expires            time.Time
}

// StoredID is the ID under which a store keeps a session: the SHA-256 of
// the session ID in the cookie, so that the store's rows cannot be turned
// into a session.
func StoredID(sid string) string { return hashKey("gatehouse-bff-session\x00" + sid) }

// Service is the token-management service. Build it with New.
type Service struct {
	// Now is the service's clock (time.Now); set it before serving.
	Now func() time.Time
	// Sessions, when set (before serving), is the server-side session
	// store: a session it does not know is logged out.
	Sessions SessionStore
	cfg      *Config
	jar      *cookieJar
	client   *http.Client
	log      *slog.Logger
	flight   singleflight.Group

	mu        sync.Mutex
	providers map[string]*oidc.Provider // by issuer

	allowOrigin []string // the Access-Control-Allow-Origin value

	// recent keeps each refresh's answer for a few seconds, by the
	// refreshed token, so that a request that raced the refresh with the
	// old cookie gets the same new tokens instead of a second refresh.
	recentMu sync.Mutex
	recent   map[string]recentRefresh

	reg       *prometheus.Registry
	requests  *prometheus.CounterVec // by endpoint and status
	refreshes *prometheus.CounterVec // by result
}

type recentRefresh struct {
	s   *session
	exp time.Time
}

// New builds the service from a checked config. httpClient (nil: a client
// with a 10 s timeout) calls the providers.
func New(cfg *Config, httpClient *http.Client, log *slog.Logger) (*Service, error) {
	ring, err := cfg.Ring()
	if err != nil {
		return nil, err
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	if log == nil {
		log = slog.Default()
	}
	u, _ := url.Parse(cfg.PublicURL)
	s := &Service{
		cfg: cfg, client: httpClient, Now: time.Now, log: log,
		jar:       &cookieJar{ring: ring, secure: u.Scheme == "https"},
		providers: map[string]*oidc.Provider{}, recent: map[string]recentRefresh{},
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_bff_requests_total",
			Help: "Requests to the token-management service, by endpoint and HTTP status."}, []string{"endpoint", "status"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_bff_refreshes_total",
			Help: "Token refreshes at the providers, by result (ok, failed); parallel calls of a session count once."}, []string{"result"}),
	}
	s.reg.MustRegister(s.requests, s.refreshes, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.jar.now = func() time.Time { return s.Now() }
	s.allowOrigin = []string{cfg.FrontEnd.CORSOrigin}
	return s, nil
}

// statusWriter remembers the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// counted counts a handler's requests under endpoint.
func (s *Service) counted(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	ok := s.requests.WithLabelValues(endpoint, "200")
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r)
		if sw.status == 0 || sw.status == http.StatusOK {
			ok.Inc()
			return
		}
		s.requests.WithLabelValues(endpoint, strconv.Itoa(sw.status)).Inc()
	}
}

// Handler is the service's HTTP handler.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathCheckSession, s.counted("check_session", s.cors(s.checkSession)))
	mux.HandleFunc("GET /Auth/Domains/{customerDomain}/BeginLogin", s.counted("begin_login", s.beginLogin))
	mux.HandleFunc("POST "+PathBeginLogin, s.counted("begin_login", s.beginLogin))
	mux.HandleFunc("GET "+s.cfg.Client.CallbackPath, s.counted("callback", s.callback))
	mux.HandleFunc("POST "+PathRetrieve, s.counted("retrieve_access_token", s.cors(s.retrieve)))
	mux.HandleFunc("POST "+PathRetrieveAlias, s.counted("retrieve_access_token", s.cors(s.retrieve)))
	mux.HandleFunc("POST "+PathLogOut, s.counted("log_out", s.cors(s.logOut)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	for _, p := range []string{PathCheckSession, PathRetrieve, PathRetrieveAlias, PathLogOut} {
		mux.HandleFunc("OPTIONS "+p, s.cors(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	return http.MaxBytesHandler(mux, 64<<10)
}

// cors allows exactly the configured front-end origin, with credentials;
// a request from any other origin gets no CORS headers and, when it could
// change something (not a GET), a 403.
func (s *Service) cors(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		switch {
		case origin == s.cfg.FrontEnd.CORSOrigin:
			// Assigned, not Set: the keys are canonical, and the value
			// slices are shared read-only (an Add would copy them).
			hd := w.Header()
			hd["Access-Control-Allow-Origin"] = s.allowOrigin
			hd["Access-Control-Allow-Credentials"] = headerTrue
			hd["Vary"] = headerOrigin
			if r.Method == http.MethodOptions {
				hd.Set("Access-Control-Allow-Methods", "GET, POST")
				hd.Set("Access-Control-Allow-Headers", HeaderAntiForgery+", Content-Type")
				hd.Set("Access-Control-Max-Age", "600")
			}
		case origin != "" && origin != s.cfg.PublicURL && r.Method != http.MethodGet:
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		w.Header()["Cache-Control"] = headerNoStore
		h(w, r)
	}
}

// Shared header values (never modified).
var (
	headerTrue    = []string{"true"}
	headerOrigin  = []string{"Origin"}
	headerNoStore = []string{"no-store"}
	headerJSON    = []string{"application/json"}
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// requestToken is the anti-forgery request token: an HMAC of the session
// ID under the secret of the anti-forgery cookie.
func requestToken(secret, sid string) string {
	return base64.RawURLEncoding.EncodeToString(requestMAC(secret, sid))
}

// requestMAC is the request token before its base64.
func requestMAC(secret, sid string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("gatehouse-bff-rvt\x00"))
	m.Write([]byte(sid))
	return m.Sum(make([]byte, 0, sha256.Size))
}

// checkSession answers whether the browser is logged in, never with a
// token, and issues the anti-forgery pair (R-BFF-2).
func (s *Service) checkSession(w http.ResponseWriter, r *http.Request) {
	var sess session
	_, ok, err := s.openSession(w, r, &sess)
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	var secret string
	if !s.jar.read(r, cookieCSRF, &secret) {
		secret = randomToken()
	}
	if err := s.jar.write(w, r, cookieCSRF, secret, s.Now().Add(csrfLifetime), http.SameSiteStrictMode); err != nil {
		s.fail(w, err)
		return
	}
	out := struct {
		IsLoggedIn               bool    `json:"isLoggedIn"`
		WorkspaceDomain          *string `json:"workspaceDomain"`
		RequestVerificationToken string  `json:"requestVerificationToken"`
	}{IsLoggedIn: ok, RequestVerificationToken: requestToken(secret, sess.SID)}
	if ok {
		out.WorkspaceDomain = &sess.Domain
		if err := s.saveSession(w, r, &sess); err != nil {
			s.fail(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// antiForgery checks the header against the pair of CheckSession.
func (s *Service) antiForgery(r *http.Request, sid string) bool {
	var secret string
	got := r.Header.Get(HeaderAntiForgery)
	if len(got) != base64.RawURLEncoding.EncodedLen(sha256.Size) || !s.jar.read(r, cookieCSRF, &secret) {
		return false
	}
	var mac [sha256.Size]byte
	if n, err := base64.RawURLEncoding.Decode(mac[:], []byte(got)); err != nil || n != len(mac) {
		return false
	}
	return hmac.Equal(mac[:], requestMAC(secret, sid))
}

// openSession reads the session cookie and, with a store, asks it whether
// the session still lives: one it does not know is cleared and reads as
// logged out. err: the store could not answer.
func (s *Service) openSession(w http.ResponseWriter, r *http.Request, sess *session) (time.Time, bool, error) {
	exp, ok := s.jar.readExp(r, cookieSession, sess)
	if !ok || s.Sessions == nil {
		return exp, ok, nil
	}
	live, err := s.Sessions.Live(r.Context(), StoredID(sess.SID), s.Now())
	if err != nil {
		return exp, false, err
	}
	if !live {
		s.jar.clear(w, r, cookieSession, http.SameSiteLaxMode)
		*sess = session{}
	}
	return exp, live, nil
}

// saveSession writes the session cookie with a fresh idle expiry, and moves
// the stored session's expiry with it.
func (s *Service) saveSession(w http.ResponseWriter, r *http.Request, sess *session) error {
	exp := s.Now().Add(time.Duration(s.cfg.Session.IdleTimeout))
	if s.Sessions != nil {
		if err := s.Sessions.Extend(r.Context(), StoredID(sess.SID), exp); err != nil {
			return err
		}
	}
	return s.jar.write(w, r, cookieSession, sess, exp, http.SameSiteLaxMode)
}

// endStored deletes a session from the store, if there is one; a failure
// is logged (the cookies are cleared all the same).
func (s *Service) endStored(r *http.Request, sid string) {
	if s.Sessions == nil || sid == "" {
		return
	}
	if err := s.Sessions.Delete(r.Context(), StoredID(sid)); err != nil {
		s.log.WarnContext(r.Context(), "bff: the stored session could not be deleted", "error", err)
	}
}

// unavailable answers that the session store cannot be reached.
func (s *Service) unavailable(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "bff: session store unavailable", "error", err)
	writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the session store is unavailable; try again"})
}

// provider returns the discovered provider of an issuer.
func (s *Service) provider(ctx context.Context, issuer string) (*oidc.Provider, error) {
	s.mu.Lock()
	p := s.providers[issuer]
	s.mu.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, s.client), issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", issuer, err)
	}
	s.mu.Lock()
	s.providers[issuer] = p
	s.mu.Unlock()
	return p, nil
}

func (s *Service) oauth(p *oidc.Provider) *oauth2.Config {
	scopes := []string{oidc.ScopeOpenID}
	if *s.cfg.Client.UseOfflineAccess {
		scopes = append(scopes, oidc.ScopeOfflineAccess)
	}
	for _, sc := range s.cfg.Client.Scopes {
		if sc != oidc.ScopeOpenID && sc != oidc.ScopeOfflineAccess {
			scopes = append(scopes, sc)
		}
	}
	return &oauth2.Config{
		ClientID: s.cfg.Client.ClientID, ClientSecret: s.cfg.Client.ClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: s.cfg.PublicURL + s.cfg.Client.CallbackPath, Scopes: scopes,
	}
}

// beginLogin sends the browser to the customer domain's provider (R-BFF-2):
// a malformed domain is 400, an unknown one 404.
func (s *Service) beginLogin(w http.ResponseWriter, r *http.Request) {
	domain := r.PathValue("customerDomain")
	if r.Method == http.MethodPost {
		domain = r.PostFormValue("CustomerDomain")
	}
	domain = strings.ToLower(domain)
	if !ValidDomain(domain) {
		s.page(w, http.StatusBadRequest, "This is not a valid domain", "A customer domain looks like acme.example.com.")
		return
	}
	issuer, ok := s.cfg.Domains[domain]
	if !ok {
		s.page(w, http.StatusNotFound, "Unknown domain", "No sign-in is configured for "+domain+".")
		return
	}
	p, err := s.provider(r.Context(), issuer)
	if err != nil {
		s.log.WarnContext(r.Context(), "bff: provider unreachable", "issuer", issuer, "error", err)
		s.page(w, http.StatusBadGateway, "The sign-in service cannot be reached", "Try again in a moment.")
		return
	}
	st := loginState{State: randomToken(), Nonce: randomToken(), Domain: domain}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(st.Nonce)}
	if *s.cfg.Client.UseOfflineAccess {
		// OpenID Connect Core §11: offline_access is granted with
		// prompt=consent (providers drop it otherwise; Gatehouse shows no
		// consent page to first-party apps).
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	if *s.cfg.Client.UsePKCE {
		st.Verifier = oauth2.GenerateVerifier()
		opts = append(opts, oauth2.S256ChallengeOption(st.Verifier))
	}
	// Lax: the provider's redirect to the callback is a cross-site
	// top-level GET.
	if err := s.jar.write(w, r, cookieLogin, st, s.Now().Add(loginLifetime), http.SameSiteLaxMode); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.oauth(p).AuthCodeURL(st.State, opts...), http.StatusFound)
}

// callback completes the code flow and stores the tokens in the session
// cookie; a wrong state, an error from the provider or a bad code gives an
// error page and no session.
func (s *Service) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var st loginState
	if !s.jar.read(r, cookieLogin, &st) {
		s.page(w, http.StatusBadRequest, "This sign-in has expired", "Start again from the application.")
		return
	}
	s.jar.clear(w, r, cookieLogin, http.SameSiteLaxMode)
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		s.page(w, http.StatusBadRequest, "This sign-in cannot be completed", "The answer does not belong to the sign-in this browser started.")
		return
	}
	if e := q.Get("error"); e != "" {
		s.page(w, http.StatusBadRequest, "The sign-in was not completed", "The sign-in service said: "+e+" "+q.Get("error_description"))
		return
	}
	issuer := s.cfg.Domains[st.Domain]
	p, err := s.provider(ctx, issuer)
	if err != nil {
		s.page(w, http.StatusBadGateway, "The sign-in service cannot be reached", "Try again in a moment.")
		return
	}
	var opts []oauth2.AuthCodeOption
	if st.Verifier != "" {
		opts = append(opts, oauth2.VerifierOption(st.Verifier))
	}
	tok, err := s.oauth(p).Exchange(oidc.ClientContext(ctx, s.client), q.Get("code"), opts...)
	if err != nil {
		s.log.InfoContext(ctx, "bff: code exchange failed", "issuer", issuer, "error", err)
		s.page(w, http.StatusBadRequest, "This sign-in cannot be completed", "The sign-in service refused the code. Start again from the application.")
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: s.cfg.Client.ClientID}).Verify(ctx, rawID)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		s.page(w, http.StatusBadRequest, "This sign-in cannot be completed", "The sign-in service's ID token is not valid.")
		return
	}
	sess := &session{SID: randomToken(), Domain: st.Domain, Issuer: issuer, IDToken: rawID}
	now := s.Now()
	sess.set(tok, now)
	exp := now.Add(time.Duration(s.cfg.Session.IdleTimeout))
	if s.Sessions != nil {
		stored := StoredSession{ID: StoredID(sess.SID), Subject: idt.Subject, Domain: st.Domain, Issuer: issuer, Created: now, Expires: exp}
		if err := s.Sessions.Create(ctx, stored); err != nil {
			s.log.ErrorContext(ctx, "bff: session store unavailable", "error", err)
			s.page(w, http.StatusServiceUnavailable, "The sign-in cannot be completed now", "Try again in a moment.")
			return
		}
	}
	if err := s.jar.write(w, r, cookieSession, sess, exp, http.SameSiteLaxMode); err != nil {
		s.fail(w, err)
		return
	}
	http.Redirect(w, r, s.cfg.FrontEnd.RedirectURL, http.StatusFound)
}

// unknownLifetime is the access token's assumed lifetime when the provider
// gives no expires_in (RFC 6749 §5.1 only recommends it) and the token is
// not a JWT with an exp: without one, every call would refresh.
const unknownLifetime = 5 * time.Minute

// set copies a token response, received at now, into the session.
func (sess *session) set(tok *oauth2.Token, now time.Time) {
	sess.Access, sess.Issued = tok.AccessToken, now.Unix()
	if tok.RefreshToken != "" {
		sess.Refresh = tok.RefreshToken
	}
	sess.Expiry = tok.Expiry.Unix()
	if tok.Expiry.IsZero() {
		sess.Expiry = jwtExpiry(tok.AccessToken, now.Add(unknownLifetime).Unix())
	}
	if sc, ok := tok.Extra("scope").(string); ok {
		sess.Scope = sc
	}
}

// jwtExpiry is the exp claim of a JWT access token, read without checking
// the signature (it only schedules the refresh; the API checks the token),
// or otherwise if the token is not a JWT with an exp in the future.
func jwtExpiry(token string, otherwise int64) int64 {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return otherwise
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return otherwise
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(body, &c) != nil || c.Exp <= 0 {
		return otherwise
	}
	return c.Exp
}

// retrieve hands the front end the access token, refreshed first when it
// is expired or within refresh_skew of it (R-BFF-2); parallel calls with
// one session refresh once.
func (s *Service) retrieve(w http.ResponseWriter, r *http.Request) {
	var sess session
	exp, ok, err := s.openSession(w, r, &sess)
	if err != nil {
		s.unavailable(w, r, err)
		return
	}
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "not logged in"})
		return
	}
	if !s.antiForgery(r, sess.SID) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "missing or wrong " + HeaderAntiForgery + " header"})
		return
	}
	now := s.Now()
	if sess.due(now, time.Duration(s.cfg.RefreshSkew)) {
		fresh, err := s.refresh(r.Context(), &sess)
		if err != nil {
			s.log.InfoContext(r.Context(), "bff: refresh failed; session ended", "issuer", sess.Issuer, "error", err)
			s.jar.clear(w, r, cookieSession, http.SameSiteLaxMode)
			s.endStored(r, sess.SID)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "the session has ended"})
			return
		}
		sess = *fresh
		exp = time.Time{}
	}
	// The idle timeout slides by the minute: the cookie is written again
	// when it changed or is more than a minute into its window.
	if idle := time.Duration(s.cfg.Session.IdleTimeout); now.After(exp.Add(-idle + time.Minute)) {
		if err := s.saveSession(w, r, &sess); err != nil {
			s.fail(w, err)
			return
		}
	}
	w.Header()["Content-Type"] = headerJSON
	_, _ = w.Write(retrieved{AccessToken: sess.Access, ExpiresIn: max(0, sess.Expiry-now.Unix()), Scope: sess.Scope}.appendJSON(make([]byte, 0, 64+len(sess.Access)+len(sess.Scope))))
}

// appendJSON appends the answer's JSON, as encoding/json writes it, without
// reflection (the hot path).
func (t retrieved) appendJSON(b []byte) []byte {
	b = append(b, `{"accessToken":`...)
	b = appendJSONString(b, t.AccessToken)
	b = append(b, `,"expiresIn":`...)
	b = strconv.AppendInt(b, t.ExpiresIn, 10)
	b = append(b, `,"scope":`...)
	b = appendJSONString(b, t.Scope)
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string: as is when it is printable
// ASCII needing no escape (tokens and scopes are), else by encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// due reports whether the access token is to be refreshed: expired, or
// within skew of it, but never in the first half of its life (a provider
// whose tokens live less than twice the skew would otherwise be asked on
// every call).
func (sess *session) due(now time.Time, skew time.Duration) bool {
	lead := int64(skew / time.Second)
	if life := sess.Expiry - sess.Issued; life/2 < lead {
		lead = life / 2
	}
	return now.Unix() >= sess.Expiry-lead
}

// retrieved is RetrieveAccessToken's answer (R-BFF-2, camelCase as seed 001).
type retrieved struct {
	AccessToken string `json:"accessToken"`
	ExpiresIn   int64  `json:"expiresIn"`
	Scope       string `json:"scope"`
}

// refresh rotates the session's tokens once per refresh token, however many
// requests ask at the same time.
func (s *Service) refresh(ctx context.Context, sess *session) (*session, error) {
	if sess.Refresh == "" {
		return nil, errors.New("no refresh token")
	}
	key := hashKey(sess.Refresh)
	if fresh := s.recalled(key); fresh != nil {
		return fresh, nil
	}
	v, err, _ := s.flight.Do(key, func() (any, error) {
		// A flight that finished between the look above and this one
		// left its answer: a second refresh with the same token would be
		// a reuse at the provider.
		if fresh := s.recalled(key); fresh != nil {
			return fresh, nil
		}
		p, err := s.provider(ctx, sess.Issuer)
		if err != nil {
			return nil, err
		}
		old := &oauth2.Token{RefreshToken: sess.Refresh, Expiry: time.Unix(1, 0)}
		tok, err := s.oauth(p).TokenSource(oidc.ClientContext(context.WithoutCancel(ctx), s.client), old).Token()
		if err != nil {
			s.refreshes.WithLabelValues("failed").Inc()
			return nil, err
		}
		s.refreshes.WithLabelValues("ok").Inc()
		fresh := *sess
		fresh.set(tok, s.Now())
		if id, ok := tok.Extra("id_token").(string); ok && id != "" {
			fresh.IDToken = id
		}
		s.remember(key, &fresh)
		return &fresh, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*session), nil
}

// recalled is the answer of a refresh of the token with this key in the
// last 10 seconds, or nil.
func (s *Service) recalled(key string) *session {
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	if rr, ok := s.recent[key]; ok && s.Now().Before(rr.exp) {
		return rr.s
	}
	return nil
}

// remember keeps a refresh's answer for 10 seconds, dropping stale ones.
func (s *Service) remember(key string, sess *session) {
	now := s.Now()
	s.recentMu.Lock()
	defer s.recentMu.Unlock()
	for k, rr := range s.recent {
		if now.After(rr.exp) {
			delete(s.recent, k)
		}
	}
	if len(s.recent) < 10000 {
		s.recent[key] = recentRefresh{s: sess, exp: now.Add(10 * time.Second)}
	}
}

func hashKey(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// logOut revokes the refresh token at the provider (RFC 7009), clears the
// cookies and offers the provider's end-session URL.
func (s *Service) logOut(w http.ResponseWriter, r *http.Request) {
	var sess session
	logged := s.jar.read(r, cookieSession, &sess)
	if !s.antiForgery(r, sess.SID) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "missing or wrong " + HeaderAntiForgery + " header"})
		return
	}
	s.jar.clear(w, r, cookieSession, http.SameSiteLaxMode)
	s.jar.clear(w, r, cookieCSRF, http.SameSiteStrictMode)
	if logged {
		s.endStored(r, sess.SID)
	}
	out := map[string]any{"loggedOut": true}
	if logged {
		if p, err := s.provider(r.Context(), sess.Issuer); err == nil {
			var md struct {
				Revocation string `json:"revocation_endpoint"`
				EndSession string `json:"end_session_endpoint"`
			}
			_ = p.Claims(&md)
			if md.Revocation != "" && sess.Refresh != "" {
				if err := s.revoke(r.Context(), md.Revocation, sess.Refresh); err != nil {
					s.log.WarnContext(r.Context(), "bff: revocation failed", "issuer", sess.Issuer, "error", err)
				}
			}
			if md.EndSession != "" {
				q := url.Values{"post_logout_redirect_uri": {s.cfg.FrontEnd.RedirectURL}, "client_id": {s.cfg.Client.ClientID}}
				if sess.IDToken != "" {
					q.Set("id_token_hint", sess.IDToken)
				}
				out["endSessionUrl"] = md.EndSession + "?" + q.Encode()
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// revoke calls the revocation endpoint with the client's credentials.
func (s *Service) revoke(ctx context.Context, endpoint, token string) error {
	form := url.Values{"token": {token}, "token_type_hint": {"refresh_token"}}
	if s.cfg.Client.ClientSecret == "" {
		form.Set("client_id", s.cfg.Client.ClientID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if s.cfg.Client.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(s.cfg.Client.ClientID), url.QueryEscape(s.cfg.Client.ClientSecret))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revocation answered %d", resp.StatusCode)
	}
	return nil
}

var pageTmpl = template.Must(template.New("p").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body><main><h1>{{.Title}}</h1><p>{{.Text}}</p></main></body></html>
`))

// page shows an error to the user.
func (s *Service) page(w http.ResponseWriter, status int, title, text string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, struct{ Title, Text string }{title, text})
}

func (s *Service) fail(w http.ResponseWriter, err error) {
	s.log.Error("bff", "error", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}
