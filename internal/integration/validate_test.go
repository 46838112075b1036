package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
)

// checkInvalid checks that err is nil (field == "") or an Invalid
// *derrors.Error naming field.
func checkInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Errorf("got error %q, want none", err)
		}
		return
	}
	var de *derrors.Error
	if !errors.As(err, &de) {
		t.Errorf("got %v (%T), want an Invalid error on %q", err, err, field)
		return
	}
	if de.Kind != derrors.Invalid || de.Field != field {
		t.Errorf("got kind %d on field %q (%q), want Invalid on %q", de.Kind, de.Field, err, field)
	}
}

// The valid authentications, with their defaults already filled in, so that
// Validate leaves them as they are.
func basicAuth() Auth {
	return Auth{Method: MethodBasic, Username: "svc", Password: "pw"}
}

func ntlmAuth() Auth {
	return Auth{Method: MethodNTLM, Domain: "CORP", Username: "svc", Password: "pw"}
}

func bearerAuth() Auth { return Auth{Method: MethodBearer, Token: "tok", Prefix: "Bearer"} }

func apiKeyAuth(in string) Auth {
	return Auth{Method: MethodAPIKey, In: in, Name: "X-API-Key", Key: "k"}
}

func clientCredentialsAuth() Auth {
	return Auth{Method: MethodOAuth2, GrantType: GrantClientCredentials, ClientID: "gatehouse", ClientSecret: "s",
		Scope: "read write", TokenURL: "https://idp.example.com/token", HeaderPrefix: "Bearer"}
}

func passwordGrantAuth() Auth {
	a := clientCredentialsAuth()
	a.GrantType, a.Username, a.Password = GrantPassword, "svc", "pw"
	return a
}

func authorizationCodeAuth() Auth {
	return Auth{Method: MethodOAuth2, GrantType: GrantAuthorizationCode, ClientID: "gatehouse", ClientSecret: "s",
		AuthorizationURL: "https://idp.example.com/authorize", TokenURL: "https://idp.example.com/token",
		RefreshURL: "https://idp.example.com/refresh", HeaderPrefix: "Bearer"}
}

func implicitAuth() Auth {
	return Auth{Method: MethodOAuth2, GrantType: GrantImplicit, ClientID: "gatehouse",
		AuthorizationURL: "https://idp.example.com/authorize", HeaderPrefix: "Bearer"}
}

func validIntegration() *Integration {
	return &Integration{Name: "crm", BaseURL: "https://crm.example.com/api", ServiceAuth: Auth{Method: MethodNone}}
}

func params(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("p%d", i)] = "v"
	}
	return m
}

// R-INT-1, R-INT-2, R-INT-3, R-INT-5, R-INT-9: each case changes a valid
// integration; Validate refuses it naming the field, or accepts it and fills
// exactly the defaults of fill.
func TestIntegrationValidate(t *testing.T) {
	svc := func(a Auth) func(*Integration) { return func(i *Integration) { i.ServiceAuth = a } }
	svcEdit := func(a Auth, f func(*Auth)) func(*Integration) {
		return func(i *Integration) { a := a; f(&a); i.ServiceAuth = a }
	}
	// Each call of an edit makes its own copy: got and want share nothing.
	action := func(a Auth, f func(*Auth)) func(*Integration) {
		return func(i *Integration) {
			a := a
			if f != nil {
				f(&a)
			}
			i.ActionAuth = &a
		}
	}
	rate := func(r RateLimit) func(*Integration) { return func(i *Integration) { r := r; i.RateLimit = &r } }
	test := func(tr TestRequest) func(*Integration) { return func(i *Integration) { tr := tr; i.Test = &tr } }
	base := func(u string) func(*Integration) { return func(i *Integration) { i.BaseURL = u } }
	cases := []struct {
		name      string
		edit      func(*Integration)
		noSecrets bool               // Validate(false)
		wantField string             // "" = valid
		wantWarn  bool               // one warning: http
		fill      func(*Integration) // the defaults a valid case gets
	}{
		// Valid, each method.
		{name: "none", edit: func(*Integration) {}},
		{name: "basic", edit: svc(basicAuth())},
		{name: "ntlm", edit: svc(ntlmAuth())},
		{name: "bearer", edit: svc(bearerAuth())},
		{name: "bearer default prefix", edit: svcEdit(bearerAuth(), func(a *Auth) { a.Prefix = "" }),
			fill: func(i *Integration) { i.ServiceAuth.Prefix = "Bearer" }},
		{name: "bearer prefix Token", edit: svcEdit(bearerAuth(), func(a *Auth) { a.Prefix = "Token" })},
		{name: "api_key header", edit: svc(apiKeyAuth("header"))},
		{name: "api_key query", edit: svc(apiKeyAuth("query"))},
		{name: "api_key query named host", edit: svcEdit(apiKeyAuth("query"), func(a *Auth) { a.Name = "host" })},
		{name: "oauth2 client_credentials", edit: svc(clientCredentialsAuth())},
		{name: "oauth2 client_credentials without client_secret", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.ClientSecret = "" })},
		{name: "oauth2 password", edit: svc(passwordGrantAuth())},
		{name: "oauth2 authorization_code", edit: svc(authorizationCodeAuth())},
		{name: "oauth2 header_prefix default", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.HeaderPrefix = "" }),
			fill: func(i *Integration) { i.ServiceAuth.HeaderPrefix = "Bearer" }},
		{name: "oauth2 20 token_params", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.TokenParams = params(20) })},
		{name: "oauth2 token_params audience", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.TokenParams = map[string]string{"audience": "api"} })},
		{name: "service_action_auth authorization_code", edit: action(authorizationCodeAuth(), nil)},
		{name: "service_action_auth implicit in developer mode", edit: func(i *Integration) {
			i.DeveloperMode = true
			action(implicitAuth(), nil)(i)
		}},
		{name: "service_action_auth header_prefix default", edit: action(authorizationCodeAuth(), func(a *Auth) { a.HeaderPrefix = "" }),
			fill: func(i *Integration) { i.ActionAuth.HeaderPrefix = "Bearer" }},

		// Name.
		{name: "name of 63", edit: func(i *Integration) { i.Name = strings.Repeat("a", 63) }},
		{name: "name digits and dash", edit: func(i *Integration) { i.Name = "0-crm-2" }},
		{name: "name empty", edit: func(i *Integration) { i.Name = "" }, wantField: "name"},
		{name: "name uppercase", edit: func(i *Integration) { i.Name = "CRM" }, wantField: "name"},
		{name: "name leading dash", edit: func(i *Integration) { i.Name = "-crm" }, wantField: "name"},
		{name: "name of 64", edit: func(i *Integration) { i.Name = strings.Repeat("a", 64) }, wantField: "name"},
		{name: "name with slash", edit: func(i *Integration) { i.Name = "a/b" }, wantField: "name"},
		{name: "name with newline", edit: func(i *Integration) { i.Name = "crm\n" }, wantField: "name"},

		// Base URL.
		{name: "base_url required", edit: base(""), wantField: "base_url"},
		{name: "base_url relative", edit: base("/api"), wantField: "base_url"},
		{name: "base_url without host", edit: base("https:///api"), wantField: "base_url"},
		{name: "base_url ftp", edit: base("ftp://crm.example.com/api"), wantField: "base_url"},
		{name: "base_url opaque", edit: base("https:crm.example.com"), wantField: "base_url"},
		{name: "base_url user info", edit: base("https://u:p@crm.example.com"), wantField: "base_url"},
		{name: "base_url query", edit: base("https://crm.example.com/api?a=1"), wantField: "base_url"},
		{name: "base_url fragment", edit: base("https://crm.example.com/api#x"), wantField: "base_url"},
		{name: "base_url empty query", edit: base("https://crm.example.com/api?"), wantField: "base_url"},
		{name: "base_url empty fragment", edit: base("https://crm.example.com/api#"), wantField: "base_url"},
		{name: "base_url over 2000", edit: base("https://crm.example.com/" + strings.Repeat("a", 2000)), wantField: "base_url"},
		{name: "base_url http warns", edit: base("http://crm.example.com/api"), wantWarn: true},
		{name: "base_url http on premises", edit: func(i *Integration) { i.BaseURL, i.OnPremises = "http://crm.local/api", true }, wantField: "base_url"},
		{name: "base_url https on premises", edit: func(i *Integration) { i.BaseURL, i.OnPremises = "https://crm.local/api", true }},
		{name: "base_url trailing slash trimmed", edit: base("https://crm.example.com/api/"),
			fill: func(i *Integration) { i.BaseURL = "https://crm.example.com/api" }},
		{name: "base_url host only with slash trimmed", edit: base("https://crm.example.com/"),
			fill: func(i *Integration) { i.BaseURL = "https://crm.example.com" }},

		// TLS and icon.
		{name: "accept_unverified_tls on premises", edit: func(i *Integration) { i.OnPremises, i.AcceptUnverifiedTLS = true, true }},
		{name: "accept_unverified_tls not on premises", edit: func(i *Integration) { i.AcceptUnverifiedTLS = true }, wantField: "accept_unverified_tls"},
		{name: "icon ID", edit: func(i *Integration) { i.Icon = strings.Repeat("0a", 32) }},
		{name: "icon short", edit: func(i *Integration) { i.Icon = "0a0a" }, wantField: "icon"},
		{name: "icon uppercase hex", edit: func(i *Integration) { i.Icon = strings.Repeat("0A", 32) }, wantField: "icon"},
		{name: "icon of 65", edit: func(i *Integration) { i.Icon = strings.Repeat("a", 65) }, wantField: "icon"},

		// Method.
		{name: "method empty", edit: svc(Auth{}), wantField: "service_auth.method"},
		{name: "method digest", edit: svc(Auth{Method: "digest"}), wantField: "service_auth.method"},
		{name: "method uppercase", edit: svc(Auth{Method: "Basic", Username: "svc", Password: "pw"}), wantField: "service_auth.method"},

		// Missing required fields.
		{name: "basic without username", edit: svcEdit(basicAuth(), func(a *Auth) { a.Username = "" }), wantField: "service_auth.username"},
		{name: "basic without password", edit: svcEdit(basicAuth(), func(a *Auth) { a.Password = "" }), wantField: "service_auth.password"},
		{name: "ntlm without domain", edit: svcEdit(ntlmAuth(), func(a *Auth) { a.Domain = "" }), wantField: "service_auth.domain"},
		{name: "ntlm without username", edit: svcEdit(ntlmAuth(), func(a *Auth) { a.Username = "" }), wantField: "service_auth.username"},
		{name: "ntlm without password", edit: svcEdit(ntlmAuth(), func(a *Auth) { a.Password = "" }), wantField: "service_auth.password"},
		{name: "bearer without token", edit: svcEdit(bearerAuth(), func(a *Auth) { a.Token = "" }), wantField: "service_auth.token"},
		{name: "api_key without in", edit: svcEdit(apiKeyAuth(""), func(*Auth) {}), wantField: "service_auth.in"},
		{name: "api_key without name", edit: svcEdit(apiKeyAuth("header"), func(a *Auth) { a.Name = "" }), wantField: "service_auth.name"},
		{name: "api_key without key", edit: svcEdit(apiKeyAuth("header"), func(a *Auth) { a.Key = "" }), wantField: "service_auth.key"},
		{name: "oauth2 without grant_type", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.GrantType = "" }), wantField: "service_auth.grant_type"},
		{name: "oauth2 without client_id", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.ClientID = "" }), wantField: "service_auth.client_id"},
		{name: "oauth2 client_id over 512", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.ClientID = strings.Repeat("c", 513) }), wantField: "service_auth.client_id"},
		{name: "oauth2 password without username", edit: svcEdit(passwordGrantAuth(), func(a *Auth) { a.Username = "" }), wantField: "service_auth.username"},
		{name: "oauth2 password without password", edit: svcEdit(passwordGrantAuth(), func(a *Auth) { a.Password = "" }), wantField: "service_auth.password"},
		{name: "oauth2 client_credentials without token_url", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.TokenURL = "" }), wantField: "service_auth.token_url"},
		{name: "oauth2 authorization_code without token_url", edit: svcEdit(authorizationCodeAuth(), func(a *Auth) { a.TokenURL = "" }), wantField: "service_auth.token_url"},
		{name: "oauth2 authorization_code without authorization_url", edit: svcEdit(authorizationCodeAuth(), func(a *Auth) { a.AuthorizationURL = "" }),
			wantField: "service_auth.authorization_url"},
		{name: "implicit without authorization_url", edit: func(i *Integration) {
			i.DeveloperMode = true
			action(implicitAuth(), func(a *Auth) { a.AuthorizationURL = "" })(i)
		}, wantField: "service_action_auth.authorization_url"},

		// Values.
		{name: "basic username with colon", edit: svcEdit(basicAuth(), func(a *Auth) { a.Username = "svc:x" }), wantField: "service_auth.username"},
		{name: "basic username with LF", edit: svcEdit(basicAuth(), func(a *Auth) { a.Username = "svc\n" }), wantField: "service_auth.username"},
		{name: "basic password with CRLF", edit: svcEdit(basicAuth(), func(a *Auth) { a.Password = "pw\r\nX-Evil: 1" }), wantField: "service_auth.password"},
		{name: "basic password with NUL", edit: svcEdit(basicAuth(), func(a *Auth) { a.Password = "p\x00w" }), wantField: "service_auth.password"},
		{name: "basic password over 4096", edit: svcEdit(basicAuth(), func(a *Auth) { a.Password = strings.Repeat("p", 4097) }), wantField: "service_auth.password"},
		{name: "ntlm password with LF", edit: svcEdit(ntlmAuth(), func(a *Auth) { a.Password = "pw\n" }), wantField: "service_auth.password"},
		{name: "bearer token with CR", edit: svcEdit(bearerAuth(), func(a *Auth) { a.Token = "tok\r" }), wantField: "service_auth.token"},
		{name: "bearer prefix two words", edit: svcEdit(bearerAuth(), func(a *Auth) { a.Prefix = "My Bearer" }), wantField: "service_auth.prefix"},
		{name: "api_key key with CRLF", edit: svcEdit(apiKeyAuth("header"), func(a *Auth) { a.Key = "k\r\nX-Evil: 1" }), wantField: "service_auth.key"},
		{name: "oauth2 client_secret with LF", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.ClientSecret = "s\n" }), wantField: "service_auth.client_secret"},
		{name: "oauth2 password grant password with CRLF", edit: svcEdit(passwordGrantAuth(), func(a *Auth) { a.Password = "pw\r\n" }), wantField: "service_auth.password"},
		{name: "api_key in body", edit: svc(apiKeyAuth("body")), wantField: "service_auth.in"},
		{name: "api_key in Header", edit: svc(apiKeyAuth("Header")), wantField: "service_auth.in"},
		{name: "api_key header Host", edit: svcEdit(apiKeyAuth("header"), func(a *Auth) { a.Name = "Host" }), wantField: "service_auth.name"},
		{name: "api_key header Content-Length", edit: svcEdit(apiKeyAuth("header"), func(a *Auth) { a.Name = "Content-Length" }), wantField: "service_auth.name"},
		{name: "api_key header cookie", edit: svcEdit(apiKeyAuth("header"), func(a *Auth) { a.Name = "cookie" }), wantField: "service_auth.name"},
		{name: "api_key header CONNECTION", edit: svcEdit(apiKeyAuth("header"), func(a *Auth) { a.Name = "CONNECTION" }), wantField: "service_auth.name"},
		{name: "api_key header Transfer-Encoding", edit: svcEdit(apiKeyAuth("header"), func(a *Auth) { a.Name = "Transfer-Encoding" }), wantField: "service_auth.name"},
		{name: "api_key header with space", edit: svcEdit(apiKeyAuth("header"), func(a *Auth) { a.Name = "X API Key" }), wantField: "service_auth.name"},
		{name: "api_key header with colon", edit: svcEdit(apiKeyAuth("header"), func(a *Auth) { a.Name = "X-Key:" }), wantField: "service_auth.name"},
		{name: "api_key header with LF", edit: svcEdit(apiKeyAuth("header"), func(a *Auth) { a.Name = "X-Key\n" }), wantField: "service_auth.name"},
		{name: "api_key header of 65", edit: svcEdit(apiKeyAuth("header"), func(a *Auth) { a.Name = strings.Repeat("x", 65) }), wantField: "service_auth.name"},

		// OAuth 2.0.
		{name: "oauth2 grant refresh_token", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.GrantType = "refresh_token" }), wantField: "service_auth.grant_type"},
		{name: "oauth2 implicit as service_auth", edit: func(i *Integration) {
			i.DeveloperMode = true
			i.ServiceAuth = implicitAuth()
		}, wantField: "service_auth.grant_type"},
		{name: "service_action_auth implicit without developer mode", edit: action(implicitAuth(), nil), wantField: "service_action_auth.grant_type"},
		{name: "service_action_auth client_credentials", edit: action(clientCredentialsAuth(), nil), wantField: "service_action_auth.grant_type"},
		{name: "service_action_auth password", edit: action(passwordGrantAuth(), nil), wantField: "service_action_auth.grant_type"},
		{name: "service_action_auth basic", edit: action(basicAuth(), nil), wantField: "service_action_auth.method"},
		{name: "service_action_auth none", edit: action(Auth{Method: MethodNone}, nil), wantField: "service_action_auth.method"},
		{name: "oauth2 token_url ftp", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.TokenURL = "ftp://idp.example.com/token" }), wantField: "service_auth.token_url"},
		{name: "oauth2 token_url http on premises", edit: func(i *Integration) {
			i.BaseURL, i.OnPremises = "https://crm.local/api", true
			svcEdit(clientCredentialsAuth(), func(a *Auth) { a.TokenURL = "http://idp.local/token" })(i)
		}, wantField: "service_auth.token_url"},
		{name: "oauth2 refresh_url relative", edit: svcEdit(authorizationCodeAuth(), func(a *Auth) { a.RefreshURL = "/refresh" }), wantField: "service_auth.refresh_url"},
		{name: "oauth2 scope with quote", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.Scope = `read"` }), wantField: "service_auth.scope"},
		{name: "oauth2 token_params grant_type", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.TokenParams = map[string]string{"grant_type": "password"} }),
			wantField: "service_auth.token_params"},
		{name: "oauth2 token_params client_secret", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.TokenParams = map[string]string{"client_secret": "x"} }),
			wantField: "service_auth.token_params"},
		{name: "oauth2 token_params bad name", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.TokenParams = map[string]string{"a b": "x"} }),
			wantField: "service_auth.token_params"},
		{name: "oauth2 21 token_params", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.TokenParams = params(21) }), wantField: "service_auth.token_params"},
		{name: "oauth2 header_prefix two words", edit: svcEdit(clientCredentialsAuth(), func(a *Auth) { a.HeaderPrefix = "My Bearer" }), wantField: "service_auth.header_prefix"},

		// Rate limit.
		{name: "rate_limit 1 per second", edit: rate(RateLimit{Requests: 1, Per: PerSecond, Policy: PolicyReject})},
		{name: "rate_limit 100000 per minute", edit: rate(RateLimit{Requests: MaxRequests, Per: PerMinute, Policy: PolicyReject})},
		{name: "rate_limit requests 0", edit: rate(RateLimit{Requests: 0, Per: PerSecond}), wantField: "rate_limit.requests"},
		{name: "rate_limit requests -1", edit: rate(RateLimit{Requests: -1, Per: PerSecond}), wantField: "rate_limit.requests"},
		{name: "rate_limit requests 100001", edit: rate(RateLimit{Requests: MaxRequests + 1, Per: PerSecond}), wantField: "rate_limit.requests"},
		{name: "rate_limit per hour", edit: rate(RateLimit{Requests: 10, Per: "hour"}), wantField: "rate_limit.per"},
		{name: "rate_limit per empty", edit: rate(RateLimit{Requests: 10}), wantField: "rate_limit.per"},
		{name: "rate_limit policy default reject", edit: rate(RateLimit{Requests: 10, Per: PerSecond}),
			fill: func(i *Integration) { i.RateLimit.Policy = PolicyReject }},
		{name: "rate_limit policy drop", edit: rate(RateLimit{Requests: 10, Per: PerSecond, Policy: "drop"}), wantField: "rate_limit.policy"},
		{name: "rate_limit wait default max_wait", edit: rate(RateLimit{Requests: 10, Per: PerSecond, Policy: PolicyWait}),
			fill: func(i *Integration) { i.RateLimit.MaxWait = Duration(5 * time.Second) }},
		{name: "rate_limit wait 30s", edit: rate(RateLimit{Requests: 10, Per: PerSecond, Policy: PolicyWait, MaxWait: Duration(30 * time.Second)})},
		{name: "rate_limit wait 31s", edit: rate(RateLimit{Requests: 10, Per: PerSecond, Policy: PolicyWait, MaxWait: Duration(31 * time.Second)}),
			wantField: "rate_limit.max_wait"},
		{name: "rate_limit wait negative", edit: rate(RateLimit{Requests: 10, Per: PerSecond, Policy: PolicyWait, MaxWait: Duration(-time.Second)}),
			wantField: "rate_limit.max_wait"},
		{name: "rate_limit reject with max_wait", edit: rate(RateLimit{Requests: 10, Per: PerSecond, Policy: PolicyReject, MaxWait: Duration(time.Second)}),
			wantField: "rate_limit.max_wait"},

		// Test request.
		{name: "test_request method default GET", edit: test(TestRequest{Path: "health"}),
			fill: func(i *Integration) { i.Test.Method = "GET" }},
		{name: "test_request HEAD", edit: test(TestRequest{Method: "HEAD", Path: "/status/"})},
		{name: "test_request empty path", edit: test(TestRequest{Method: "GET"})},
		{name: "test_request POST", edit: test(TestRequest{Method: "POST", Path: "health"}), wantField: "test_request.method"},
		{name: "test_request get lowercase", edit: test(TestRequest{Method: "get", Path: "health"}), wantField: "test_request.method"},
		{name: "test_request path ..", edit: test(TestRequest{Path: "../admin"}), wantField: "test_request.path"},
		{name: "test_request path a/../b", edit: test(TestRequest{Path: "a/../b"}), wantField: "test_request.path"},
		{name: "test_request path URL", edit: test(TestRequest{Path: "https://evil.example.com/"}), wantField: "test_request.path"},

		// Without requireSecrets (an import).
		{name: "import basic without password", edit: svcEdit(basicAuth(), func(a *Auth) { a.Password = "" }), noSecrets: true},
		{name: "import ntlm without password", edit: svcEdit(ntlmAuth(), func(a *Auth) { a.Password = "" }), noSecrets: true},
		{name: "import bearer without token", edit: svcEdit(bearerAuth(), func(a *Auth) { a.Token = "" }), noSecrets: true},
		{name: "import api_key without key", edit: svcEdit(apiKeyAuth("query"), func(a *Auth) { a.Key = "" }), noSecrets: true},
		{name: "import oauth2 password without password", edit: svcEdit(passwordGrantAuth(), func(a *Auth) { a.Password = "" }), noSecrets: true},
		{name: "import basic without username", edit: svcEdit(basicAuth(), func(a *Auth) { a.Username, a.Password = "", "" }), noSecrets: true,
			wantField: "service_auth.username"},
		{name: "import basic password with LF", edit: svcEdit(basicAuth(), func(a *Auth) { a.Password = "p\n" }), noSecrets: true,
			wantField: "service_auth.password"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := validIntegration()
			c.edit(got)
			warnings, err := got.Validate(!c.noSecrets)
			checkInvalid(t, err, c.wantField)
			if c.wantField != "" {
				if warnings != nil {
					t.Errorf("got warnings %q with the error, want none", warnings)
				}
				return
			}
			if c.wantWarn {
				if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "base_url uses http") {
					t.Errorf("got warnings %q, want one on base_url uses http", warnings)
				}
			} else if warnings != nil {
				t.Errorf("got warnings %q, want none", warnings)
			}
			want := validIntegration()
			c.edit(want)
			if c.fill != nil {
				c.fill(want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("after Validate got\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// R-INT-2: an import (requireSecrets false) may lack a secret; a create or
// update (true) may not.
func TestValidateRequireSecrets(t *testing.T) {
	for _, c := range []struct {
		requireSecrets bool
		wantField      string
	}{{false, ""}, {true, "service_auth.password"}} {
		t.Run(fmt.Sprint(c.requireSecrets), func(t *testing.T) {
			i := validIntegration()
			i.ServiceAuth = Auth{Method: MethodBasic, Username: "svc"}
			_, err := i.Validate(c.requireSecrets)
			checkInvalid(t, err, c.wantField)
		})
	}
}

// R-INT-2: the API shows which secrets are set, never their values.
func TestAuthRedacted(t *testing.T) {
	cases := []struct {
		name string
		in   Auth
		want []string
	}{
		{"none", Auth{Method: MethodNone}, nil},
		{"basic", basicAuth(), []string{"password"}},
		{"basic without password", Auth{Method: MethodBasic, Username: "svc"}, nil},
		{"bearer", bearerAuth(), []string{"token"}},
		{"api_key", apiKeyAuth("header"), []string{"key"}},
		{"oauth2 password", passwordGrantAuth(), []string{"password", "client_secret"}},
		{"all four, stale SecretsSet", Auth{Method: MethodOAuth2, ClientSecret: "c", Key: "k", Token: "t", Password: "p", SecretsSet: []string{"x"}},
			[]string{"password", "token", "key", "client_secret"}},
		{"stale SecretsSet, no secret", Auth{Method: MethodBasic, SecretsSet: []string{"password"}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			before := in.Secrets()
			got := in.Redacted()
			if !reflect.DeepEqual(got.SecretsSet, c.want) {
				t.Errorf("got SecretsSet %q, want %q", got.SecretsSet, c.want)
			}
			if s := got.Secrets(); s != (Secrets{}) {
				t.Errorf("got secrets %+v, want none", s)
			}
			want := c.in
			want.SetSecrets(Secrets{})
			want.SecretsSet = c.want
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
			if in.Secrets() != before {
				t.Errorf("Redacted changed its receiver: got %+v, want %+v", in.Secrets(), before)
			}
		})
	}
}

// R-INT-2, R-INT-3: Integration.Redacted redacts both authentications and
// leaves the original's secrets.
func TestIntegrationRedacted(t *testing.T) {
	i := validIntegration()
	i.ServiceAuth = basicAuth()
	a := authorizationCodeAuth()
	i.ActionAuth = &a
	got := i.Redacted()
	if got.ServiceAuth.Secrets() != (Secrets{}) || !reflect.DeepEqual(got.ServiceAuth.SecretsSet, []string{"password"}) {
		t.Errorf("got service_auth %+v, want no secret and SecretsSet [password]", got.ServiceAuth)
	}
	if got.ActionAuth.Secrets() != (Secrets{}) || !reflect.DeepEqual(got.ActionAuth.SecretsSet, []string{"client_secret"}) {
		t.Errorf("got service_action_auth %+v, want no secret and SecretsSet [client_secret]", *got.ActionAuth)
	}
	if want := (Secrets{Password: "pw"}); i.ServiceAuth.Secrets() != want {
		t.Errorf("original service_auth secrets: got %+v, want %+v", i.ServiceAuth.Secrets(), want)
	}
	if want := (Secrets{ClientSecret: "s"}); i.ActionAuth.Secrets() != want {
		t.Errorf("original service_action_auth secrets: got %+v, want %+v", i.ActionAuth.Secrets(), want)
	}
}

// R-INT-2, R-INT-3: an update that leaves a secret empty keeps the stored
// one, unless the method or grant changed; a new secret wins.
func TestKeepSecrets(t *testing.T) {
	all := Secrets{Password: "op", Token: "ot", Key: "ok", ClientSecret: "oc"}
	auth := func(method, grant string, s Secrets) Auth {
		a := Auth{Method: method, GrantType: grant}
		a.SetSecrets(s)
		return a
	}
	cases := []struct {
		name     string
		old, new Auth
		want     Secrets
	}{
		{"same method, empty", auth(MethodBasic, "", all), auth(MethodBasic, "", Secrets{}), all},
		{"same method, new password", auth(MethodBasic, "", all), auth(MethodBasic, "", Secrets{Password: "np"}),
			Secrets{Password: "np", Token: "ot", Key: "ok", ClientSecret: "oc"}},
		{"same method, all new", auth(MethodAPIKey, "", all), auth(MethodAPIKey, "", Secrets{Password: "1", Token: "2", Key: "3", ClientSecret: "4"}),
			Secrets{Password: "1", Token: "2", Key: "3", ClientSecret: "4"}},
		{"same grant", auth(MethodOAuth2, GrantPassword, all), auth(MethodOAuth2, GrantPassword, Secrets{ClientSecret: "nc"}),
			Secrets{Password: "op", Token: "ot", Key: "ok", ClientSecret: "nc"}},
		{"changed method", auth(MethodBasic, "", all), auth(MethodNTLM, "", Secrets{}), Secrets{}},
		{"changed method, new token", auth(MethodBasic, "", all), auth(MethodBearer, "", Secrets{Token: "nt"}), Secrets{Token: "nt"}},
		{"changed grant", auth(MethodOAuth2, GrantPassword, all), auth(MethodOAuth2, GrantClientCredentials, Secrets{}), Secrets{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			oldAction, newAction := c.old, c.new
			old := &Integration{ServiceAuth: c.old, ActionAuth: &oldAction}
			i := &Integration{ServiceAuth: c.new, ActionAuth: &newAction}
			i.KeepSecrets(old)
			if got := i.ServiceAuth.Secrets(); got != c.want {
				t.Errorf("service_auth: got %+v, want %+v", got, c.want)
			}
			if got := i.ActionAuth.Secrets(); got != c.want {
				t.Errorf("service_action_auth: got %+v, want %+v", got, c.want)
			}
		})
	}
}

// R-INT-3: an action authentication added or removed by the update keeps
// nothing and breaks nothing.
func TestKeepSecretsActionAuthNil(t *testing.T) {
	a := authorizationCodeAuth()
	old := &Integration{ServiceAuth: basicAuth(), ActionAuth: &a}
	i := &Integration{ServiceAuth: Auth{Method: MethodBasic, Username: "svc"}}
	i.KeepSecrets(old)
	if i.ActionAuth != nil {
		t.Errorf("got service_action_auth %+v, want nil", *i.ActionAuth)
	}
	if got, want := i.ServiceAuth.Password, "pw"; got != want {
		t.Errorf("got password %q, want %q", got, want)
	}
	n := Auth{Method: MethodOAuth2, GrantType: GrantAuthorizationCode}
	i = &Integration{ServiceAuth: Auth{Method: MethodNone}, ActionAuth: &n}
	i.KeepSecrets(&Integration{ServiceAuth: Auth{Method: MethodNone}})
	if got := i.ActionAuth.Secrets(); got != (Secrets{}) {
		t.Errorf("got service_action_auth secrets %+v, want none", got)
	}
}

// R-INT-5: max_wait is written and read as a Go duration string.
func TestDurationJSON(t *testing.T) {
	b, err := json.Marshal(Duration(5 * time.Second))
	if got, want := string(b), `"5s"`; err != nil || got != want {
		t.Errorf("Marshal: got %s, %v, want %s", got, err, want)
	}
	cases := []struct {
		in      string
		want    Duration
		wantErr bool
	}{
		{`"5s"`, Duration(5 * time.Second), false},
		{`"1m30s"`, Duration(90 * time.Second), false},
		{`"250ms"`, Duration(250 * time.Millisecond), false},
		{`5`, 0, true},
		{`"soon"`, 0, true},
		{`""`, 0, true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			var got Duration
			err := json.Unmarshal([]byte(c.in), &got)
			if (err != nil) != c.wantErr || got != c.want {
				t.Errorf("got %v, %v; want %v, error %v", time.Duration(got), err, time.Duration(c.want), c.wantErr)
			}
		})
	}
	var r RateLimit
	if err := json.Unmarshal([]byte(`{"requests":1,"per":"second","policy":"wait","max_wait":"5s"}`), &r); err != nil {
		t.Fatal(err)
	}
	b, err = json.Marshal(r)
	if got, want := string(b), `{"requests":1,"per":"second","policy":"wait","max_wait":"5s"}`; err != nil || got != want {
		t.Errorf("round trip: got %s, %v, want %s", got, err, want)
	}
}

// R-INT-2: an update that points the credentials at another host keeps no
// stored secret (else whoever may update could send them to a host of
// theirs); the same host keeps them.
func TestKeepSecretsNotToAnotherHost(t *testing.T) {
	key := Auth{Method: MethodAPIKey, In: "header", Name: "X-API-Key", Key: "stored"}
	oauth := Auth{Method: MethodOAuth2, GrantType: GrantClientCredentials, ClientID: "c", ClientSecret: "stored", TokenURL: "https://as.example.com/token"}
	for _, tc := range []struct {
		name             string
		oldBase, newBase string
		old              Auth
		edit             func(a *Auth)
		want             string
	}{
		{"same origin, other path", "https://t.example.com/api", "https://t.example.com/v2", key, func(*Auth) {}, "stored"},
		{"other host", "https://t.example.com/api", "https://evil.example.com/api", key, func(*Auth) {}, ""},
		{"other port", "https://t.example.com/api", "https://t.example.com:8443/api", key, func(*Auth) {}, ""},
		{"https to http", "https://t.example.com/api", "http://t.example.com/api", key, func(*Auth) {}, ""},
		{"oauth: same token URL, other base", "https://t.example.com", "https://u.example.com", oauth, func(*Auth) {}, "stored"},
		{"oauth: other token URL", "https://t.example.com", "https://t.example.com", oauth, func(a *Auth) { a.TokenURL = "https://evil.example.com/token" }, ""},
		{"oauth: other refresh URL", "https://t.example.com", "https://t.example.com", oauth, func(a *Auth) { a.RefreshURL = "https://evil.example.com/token" }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := &Integration{BaseURL: tc.oldBase, ServiceAuth: tc.old}
			a := tc.old
			a.SetSecrets(Secrets{})
			tc.edit(&a)
			i := &Integration{BaseURL: tc.newBase, ServiceAuth: a}
			i.KeepSecrets(old)
			s := i.ServiceAuth.Secrets()
			if got := s.Key + s.ClientSecret; got != tc.want {
				t.Errorf("kept %q, want %q", got, tc.want)
			}
		})
	}
}

// R-INT-8: an imported integration (no secrets) is not ready until its
// secrets are set; Ready changes nothing.
func TestReady(t *testing.T) {
	for _, tc := range []struct {
		auth  Auth
		field string
	}{
		{Auth{Method: MethodNone}, ""},
		{Auth{Method: MethodBasic, Username: "u"}, "service_auth.password"},
		{Auth{Method: MethodBasic, Username: "u", Password: "p"}, ""},
		{Auth{Method: MethodNTLM, Domain: "d", Username: "u"}, "service_auth.password"},
		{Auth{Method: MethodBearer}, "service_auth.token"},
		{Auth{Method: MethodAPIKey, In: "header", Name: "X-K"}, "service_auth.key"},
		{Auth{Method: MethodOAuth2, GrantType: GrantPassword, Username: "u"}, "service_auth.password"},
		{Auth{Method: MethodOAuth2, GrantType: GrantClientCredentials, ClientID: "c"}, ""},
	} {
		i := &Integration{Name: "x", BaseURL: "https://x.example.com", ServiceAuth: tc.auth}
		before := *i
		err := i.Ready()
		var de *derrors.Error
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: %v, want ready", tc.auth, err)
		case tc.field != "" && (!errors.As(err, &de) || de.Field != tc.field):
			t.Errorf("%+v: %v, want %s not set", tc.auth, err, tc.field)
		}
		if i.ServiceAuth.Prefix != before.ServiceAuth.Prefix || i.ServiceAuth.HeaderPrefix != before.ServiceAuth.HeaderPrefix {
			t.Errorf("Ready changed the integration: %+v", i.ServiceAuth)
		}
	}
}
