package integration

import (
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
)

// Integration is one connection of a tenant to a system of record.
type Integration struct {
	TenantID string `json:"-"`
	// Name identifies it in its tenant, in paths and in scopes
	// (integration:{name}).
	Name    string `json:"name"`
	BaseURL string `json:"base_url"`
	// Icon is the ID of one of the tenant's icons, or empty.
	Icon string `json:"icon,omitempty"`
	// OnPremises: the system runs at the customer's site: https only,
	// and AcceptUnverifiedTLS may turn certificate checks off.
	OnPremises          bool `json:"on_premises"`
	AcceptUnverifiedTLS bool `json:"accept_unverified_tls,omitempty"`
	// DeveloperMode allows the implicit grant for service actions.
	DeveloperMode bool       `json:"developer_mode,omitempty"`
	ServiceAuth   Auth       `json:"service_auth"`
	ActionAuth    *Auth      `json:"service_action_auth,omitempty"`
	RateLimit     *RateLimit `json:"rate_limit,omitempty"`
	// Test is the request "test connection" performs (R-INT-9).
	Test      *TestRequest `json:"test_request,omitempty"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
}

// Authentication methods (R-INT-2).
const (
	MethodNone   = "none"
	MethodBasic  = "basic"
	MethodNTLM   = "ntlm"
	MethodBearer = "bearer"
	MethodAPIKey = "api_key"
	MethodOAuth2 = "oauth2"
)

// OAuth 2.0 grant types of an integration (R-INT-2).
const (
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantAuthorizationCode = "authorization_code"
	GrantImplicit          = "implicit"
)

// Auth is how Gatehouse authenticates to the system of record. Which
// fields count depends on Method; the secret ones (Password, Token, Key,
// ClientSecret) are sealed at rest and never shown.
type Auth struct {
	Method string `json:"method"`
	// basic, ntlm, oauth2 password grant
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// ntlm
	Domain string `json:"domain,omitempty"`
	// bearer: Token sent as "Prefix Token" (Prefix "Bearer" by default)
	Token  string `json:"token,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	// api_key: Key in the header or query parameter Name
	In   string `json:"in,omitempty"`
	Name string `json:"name,omitempty"`
	Key  string `json:"key,omitempty"`
	// oauth2
	GrantType        string            `json:"grant_type,omitempty"`
	Scope            string            `json:"scope,omitempty"`
	ClientID         string            `json:"client_id,omitempty"`
	ClientSecret     string            `json:"client_secret,omitempty"`
	AuthorizationURL string            `json:"authorization_url,omitempty"`
	TokenURL         string            `json:"token_url,omitempty"`
	RefreshURL       string            `json:"refresh_url,omitempty"`
	TokenParams      map[string]string `json:"token_params,omitempty"`
	HeaderPrefix     string            `json:"header_prefix,omitempty"`
	// SecretsSet names the secret fields that hold a value: what the API
	// shows instead of the secrets.
	SecretsSet []string `json:"secrets_set,omitempty"`
}

// Secrets is the sealed part of an Auth.
type Secrets struct {
	Password     string `json:"password,omitempty"`
	Token        string `json:"token,omitempty"`
	Key          string `json:"key,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
}

// Secrets returns a's secret fields.
func (a *Auth) Secrets() Secrets {
	return Secrets{Password: a.Password, Token: a.Token, Key: a.Key, ClientSecret: a.ClientSecret}
}

// SetSecrets puts s into a.
func (a *Auth) SetSecrets(s Secrets) {
	a.Password, a.Token, a.Key, a.ClientSecret = s.Password, s.Token, s.Key, s.ClientSecret
}

// Redacted is a without its secrets, SecretsSet naming those it has.
func (a Auth) Redacted() Auth {
	s := a.Secrets()
	a.SetSecrets(Secrets{})
	a.SecretsSet = nil
	for _, f := range []struct {
		name, v string
	}{{"password", s.Password}, {"token", s.Token}, {"key", s.Key}, {"client_secret", s.ClientSecret}} {
		if f.v != "" {
			a.SecretsSet = append(a.SecretsSet, f.name)
		}
	}
	return a
}

// Redacted is i without any secret.
func (i Integration) Redacted() Integration {
	i.ServiceAuth = i.ServiceAuth.Redacted()
	if i.ActionAuth != nil {
		r := i.ActionAuth.Redacted()
		i.ActionAuth = &r
	}
	return i
}

// KeepSecrets fills the secrets left empty in i from old, the stored
// version, where the method (and grant) did not change and the secrets
// would go where they went: an update need not send the secrets again, but
// one that points them at another host must (else whoever may update could
// send the stored secrets, which nobody can read, to a host of theirs).
func (i *Integration) KeepSecrets(old *Integration) {
	keep := func(a, o *Auth) {
		if a == nil || o == nil || a.Method != o.Method || a.GrantType != o.GrantType {
			return
		}
		if a.Method == MethodOAuth2 {
			if a.TokenURL != o.TokenURL || a.RefreshURL != o.RefreshURL || a.AuthorizationURL != o.AuthorizationURL {
				return
			}
		} else if !sameOrigin(i.BaseURL, old.BaseURL) {
			return
		}
		s, os := a.Secrets(), o.Secrets()
		if s.Password == "" {
			s.Password = os.Password
		}
		if s.Token == "" {
			s.Token = os.Token
		}
		if s.Key == "" {
			s.Key = os.Key
		}
		if s.ClientSecret == "" {
			s.ClientSecret = os.ClientSecret
		}
		a.SetSecrets(s)
	}
	keep(&i.ServiceAuth, &old.ServiceAuth)
	keep(i.ActionAuth, old.ActionAuth)
}

// sameOrigin reports whether two URLs have the same scheme, host and port.
func sameOrigin(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	return errA == nil && errB == nil && strings.EqualFold(ua.Scheme, ub.Scheme) && strings.EqualFold(ua.Host, ub.Host)
}

// RateLimit is N requests per second or per minute (R-INT-5).
type RateLimit struct {
	Requests int    `json:"requests"`
	Per      string `json:"per"`
	// Policy: reject (429 with Retry-After) or wait (up to MaxWait).
	Policy  string   `json:"policy"`
	MaxWait Duration `json:"max_wait,omitempty"`
}

// Rate-limit values.
const (
	PerSecond    = "second"
	PerMinute    = "minute"
	PolicyReject = "reject"
	PolicyWait   = "wait"
	// DefaultMaxWait and MaxMaxWait bound a wait policy's wait.
	DefaultMaxWait = 5 * time.Second
	MaxMaxWait     = 30 * time.Second
	MaxRequests    = 100000
)

// Window is the limit's window.
func (r *RateLimit) Window() time.Duration {
	if r.Per == PerMinute {
		return time.Minute
	}
	return time.Second
}

// TestResult is the outcome of "test connection" (R-INT-9).
type TestResult struct {
	OK         bool   `json:"ok"`
	Method     string `json:"method"`
	URL        string `json:"url"`
	Status     int    `json:"status,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
	Detail     string `json:"error_description,omitempty"`
	Hint       string `json:"hint,omitempty"`
	// Body is the start of the answer (512 bytes at most), when it is text.
	Body string `json:"body,omitempty"`
}

// TestRequest is the request "test connection" makes: a GET or HEAD of a
// path below the base URL.
type TestRequest struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

// ValidateName checks an integration name: 1 to 63 of a-z, 0-9 and '-',
// not starting with '-'. (Every call checks its name: no regexp.)
func ValidateName(n string) error {
	ok := len(n) >= 1 && len(n) <= 63 && n[0] != '-'
	for i := 0; ok && i < len(n); i++ {
		c := n[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return derrors.Invalidf("name", "%q: 1 to 63 characters a-z, 0-9 and '-', starting with a letter or digit", n)
	}
	return nil
}

// Validate checks i (R-INT-1..3, R-INT-5, R-INT-9), fills defaults, and
// returns warnings (an http base URL). The error names the field. Without
// requireSecrets (an import: secrets never travel) a secret may be empty;
// such an integration refuses calls until its secrets are set.
func (i *Integration) Validate(requireSecrets bool) (warnings []string, err error) {
	if err := ValidateName(i.Name); err != nil {
		return nil, err
	}
	u, err := checkURL("base_url", i.BaseURL, i.OnPremises)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(i.BaseURL, "?#") {
		return nil, derrors.Invalidf("base_url", "must have no query or fragment")
	}
	i.BaseURL = strings.TrimRight(i.BaseURL, "/")
	if u.Scheme == "http" {
		warnings = append(warnings, "base_url uses http: credentials and data cross the network unencrypted; use https")
	}
	if i.AcceptUnverifiedTLS && !i.OnPremises {
		return nil, derrors.Invalidf("accept_unverified_tls", "only an on-premises integration may accept unverified TLS certificates")
	}
	if i.Icon != "" && !iconIDRE.MatchString(i.Icon) {
		return nil, derrors.Invalidf("icon", "is not an icon ID")
	}
	if err := i.ServiceAuth.validate("service_auth", false, i.DeveloperMode, i.OnPremises, requireSecrets); err != nil {
		return nil, err
	}
	if i.ActionAuth != nil {
		if err := i.ActionAuth.validate("service_action_auth", true, i.DeveloperMode, i.OnPremises, requireSecrets); err != nil {
			return nil, err
		}
	}
	if r := i.RateLimit; r != nil {
		if r.Requests < 1 || r.Requests > MaxRequests {
			return nil, derrors.Invalidf("rate_limit.requests", "must be between 1 and %d", MaxRequests)
		}
		if r.Per != PerSecond && r.Per != PerMinute {
			return nil, derrors.Invalidf("rate_limit.per", "must be second or minute")
		}
		switch r.Policy {
		case "":
			r.Policy = PolicyReject
		case PolicyReject, PolicyWait:
		default:
			return nil, derrors.Invalidf("rate_limit.policy", "must be reject or wait")
		}
		if r.Policy == PolicyWait && r.MaxWait == 0 {
			r.MaxWait = Duration(DefaultMaxWait)
		}
		if r.MaxWait < 0 || time.Duration(r.MaxWait) > MaxMaxWait || (r.Policy == PolicyReject && r.MaxWait != 0) {
			return nil, derrors.Invalidf("rate_limit.max_wait", "is for the wait policy only, at most %s", MaxMaxWait)
		}
	}
	if t := i.Test; t != nil {
		if t.Method == "" {
			t.Method = "GET"
		}
		if t.Method != "GET" && t.Method != "HEAD" {
			return nil, derrors.Invalidf("test_request.method", "must be GET or HEAD (a test changes nothing)")
		}
		if _, err := CleanPath(t.Path); err != nil {
			return nil, derrors.Invalidf("test_request.path", "%v", err)
		}
	}
	return warnings, nil
}

// Ready reports, without changing i, whether its service credentials are
// complete: an imported integration has none until an update sets them.
func (i *Integration) Ready() error {
	a := &i.ServiceAuth
	missing := ""
	switch {
	case (a.Method == MethodBasic || a.Method == MethodNTLM) && a.Password == "":
		missing = "password"
	case a.Method == MethodBearer && a.Token == "":
		missing = "token"
	case a.Method == MethodAPIKey && a.Key == "":
		missing = "key"
	case a.Method == MethodOAuth2 && a.GrantType == GrantPassword && a.Password == "":
		missing = "password"
	}
	if missing != "" {
		return derrors.Invalidf("service_auth."+missing, "is not set: an admin must set it (an imported integration comes without secrets)")
	}
	return nil
}

// checkURL accepts an absolute http(s) URL with a host and no user
// information; https only when httpsOnly.
func checkURL(field, raw string, httpsOnly bool) (*url.URL, error) {
	if raw == "" {
		return nil, derrors.Invalidf(field, "is required")
	}
	if len(raw) > 2000 {
		return nil, derrors.Invalidf(field, "is longer than 2000 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" || u.Opaque != "" {
		return nil, derrors.Invalidf(field, "%q is not an absolute URL", raw)
	}
	if u.User != nil {
		return nil, derrors.Invalidf(field, "must not hold a user name or password: use the authentication settings")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if httpsOnly {
			return nil, derrors.Invalidf(field, "an on-premises integration must use https")
		}
	default:
		return nil, derrors.Invalidf(field, "must be an http or https URL")
	}
	return u, nil
}

var tokenRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")

// forbiddenHeaders may not carry an API key: the transport sets them.
var forbiddenHeaders = map[string]bool{"host": true, "content-length": true, "transfer-encoding": true, "connection": true, "cookie": true,
	"te": true, "upgrade": true, "trailer": true, "keep-alive": true, "proxy-authorization": true, "proxy-connection": true}

func (a *Auth) validate(field string, action, developer, onPrem, requireSecrets bool) error {
	bad := func(sub, format string, args ...any) error { return derrors.Invalidf(field+"."+sub, format, args...) }
	need := func(sub, v string) error {
		if v == "" {
			return bad(sub, "is required for method %s", a.Method)
		}
		if len(v) > 4096 {
			return bad(sub, "is longer than 4096 characters")
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return bad(sub, "must not hold line breaks or NUL")
		}
		return nil
	}
	secret := func(sub, v string) error {
		if v == "" && !requireSecrets {
			return nil
		}
		return need(sub, v)
	}
	if action && a.Method != MethodOAuth2 {
		return bad("method", "service actions authenticate each user with OAuth 2.0: method must be oauth2")
	}
	switch a.Method {
	case MethodNone:
	case MethodBasic:
		if err := need("username", a.Username); err != nil {
			return err
		}
		if strings.Contains(a.Username, ":") {
			return bad("username", "must not contain ':' (RFC 7617)")
		}
		return secret("password", a.Password)
	case MethodNTLM:
		for _, f := range []struct{ n, v string }{{"domain", a.Domain}, {"username", a.Username}} {
			if err := need(f.n, f.v); err != nil {
				return err
			}
		}
		return secret("password", a.Password)
	case MethodBearer:
		if err := secret("token", a.Token); err != nil {
			return err
		}
		if a.Prefix == "" {
			a.Prefix = "Bearer"
		}
		if !tokenRE.MatchString(a.Prefix) {
			return bad("prefix", "must be one word, such as Bearer or Token")
		}
	case MethodAPIKey:
		if a.In != "header" && a.In != "query" {
			return bad("in", "must be header or query")
		}
		if !tokenRE.MatchString(a.Name) || (a.In == "header" && forbiddenHeaders[strings.ToLower(a.Name)]) {
			return bad("name", "must be a header or parameter name such as X-API-Key (not a header the transport sets)")
		}
		return secret("key", a.Key)
	case MethodOAuth2:
		if err := secret("client_secret", a.ClientSecret); err != nil && a.ClientSecret != "" {
			return err
		}
		return a.validateOAuth(field, action, developer, onPrem, need, secret)
	case "":
		return bad("method", "is required: none, basic, ntlm, bearer, api_key or oauth2")
	default:
		return bad("method", "must be none, basic, ntlm, bearer, api_key or oauth2")
	}
	return nil
}

func (a *Auth) validateOAuth(field string, action, developer, onPrem bool, need, secret func(sub, v string) error) error {
	bad := func(sub, format string, args ...any) error { return derrors.Invalidf(field+"."+sub, format, args...) }
	switch a.GrantType {
	case GrantClientCredentials, GrantPassword:
		if action {
			return bad("grant_type", "service actions act for each user: authorization_code (or implicit in developer mode)")
		}
	case GrantAuthorizationCode:
	case GrantImplicit:
		if !action || !developer {
			return bad("grant_type", "implicit is only for service actions, in developer mode (it has no refresh)")
		}
	default:
		return bad("grant_type", "must be client_credentials, password, authorization_code or implicit")
	}
	if a.ClientID == "" || len(a.ClientID) > 512 {
		return bad("client_id", "is required (at most 512 characters)")
	}
	if a.GrantType == GrantPassword {
		if err := need("username", a.Username); err != nil {
			return err
		}
		if err := secret("password", a.Password); err != nil {
			return err
		}
	}
	urls := []struct {
		n, v string
		req  bool
	}{{"token_url", a.TokenURL, a.GrantType != GrantImplicit}, {"refresh_url", a.RefreshURL, false},
		{"authorization_url", a.AuthorizationURL, a.GrantType == GrantAuthorizationCode || a.GrantType == GrantImplicit}}
	for _, f := range urls {
		if f.v == "" && !f.req {
			continue
		}
		if _, err := checkURL(field+"."+f.n, f.v, onPrem); err != nil {
			return err
		}
	}
	if len(a.Scope) > 1000 || strings.ContainsAny(a.Scope, "\"\\\r\n") {
		return bad("scope", "must be space-separated scope tokens, at most 1000 characters")
	}
	if len(a.TokenParams) > 20 {
		return bad("token_params", "at most 20 parameters")
	}
	for k, v := range a.TokenParams {
		if !tokenRE.MatchString(k) || len(v) > 1000 {
			return bad("token_params", "%q: names are URL-safe words, values at most 1000 characters", k)
		}
		switch k {
		case "grant_type", "client_id", "client_secret", "code", "refresh_token", "username", "password", "redirect_uri", "code_verifier", "scope":
			return bad("token_params", "%q is set by Gatehouse", k)
		}
	}
	if a.HeaderPrefix == "" {
		a.HeaderPrefix = "Bearer"
	}
	if !tokenRE.MatchString(a.HeaderPrefix) {
		return bad("header_prefix", "must be one word, such as Bearer")
	}
	return nil
}
