// Package adminapi is the JSON admin API (R-ADM-1) and the client the CLI
// uses (R-ADM-2). api/openapi.yaml is the contract: the server serves it, and
// a test checks that every operation it lists is routed here and nothing else.
//
// Authorization: a bearer JWT issued by the system tenant to a client with the
// scope "admin" (every call) or "admin:read" (GET only), for the audience
// Audience, from an application that still exists.
package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/audit"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/integration"
	"github.com/gatehouse-id/gatehouse/internal/keys"
	"github.com/gatehouse-id/gatehouse/internal/oauth"
	"github.com/gatehouse-id/gatehouse/internal/oidc"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// Audience is the aud of admin API tokens.
const Audience = "urn:gatehouse:admin"

// Admin scopes.
const (
	ScopeAdmin = "admin"
	ScopeRead  = "admin:read"
)

// MaxBodyBytes bounds a JSON request body (an app with an 80 KB logo fits).
const MaxBodyBytes = 1 << 20

// API serves /admin/v1.
type API struct {
	PublicURL string
	Tenants   tenant.Store
	Apps      *app.Service
	Users     *user.Service
	Keys      *keys.Manager
	Log       *slog.Logger
	Now       func() time.Time
	OpenAPI   []byte // YAML
	// Themes keeps the tenants' login page themes (R-OID-9).
	Themes ThemeStore
	// Lockouts lifts brute-force lockouts (the login package's limiter).
	Lockouts Unlocker
	// Consents lists and revokes users' consents (R-OID-9).
	Consents ConsentStore
	// Integrations keeps the tenants' HTTP integrations and icons (R-INT).
	Integrations *integration.Service
	// Audit is the audit log (R-ADM-4): every change's event, the queries.
	Audit audit.Store
	// Outbound tests integrations and starts service-account sign-ins.
	Outbound  Outbound
	openAPIJS []byte
}

type handler func(w http.ResponseWriter, r *http.Request) error

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) error {
	js, err := yamlToJSON(a.OpenAPI)
	if err != nil {
		return err
	}
	a.openAPIJS = js
	mux.HandleFunc("GET /admin/v1/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(a.OpenAPI)
	})
	mux.HandleFunc("GET /admin/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(a.openAPIJS)
	})
	for _, rt := range a.routes() {
		mux.Handle(rt.pattern, a.wrap(rt.pattern, rt.h))
	}
	// Anything else under /admin/ gets a problem document too: 405 when the
	// path exists with other methods, 404 otherwise.
	mux.Handle("/admin/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "/admin/" && pattern != "" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			a.problem(w, r, &derrors.Error{Kind: derrors.MethodNotAllowed, Msg: r.Method + " is not allowed here; use " + strings.Join(allowed, ", ")})
			return
		}
		a.problem(w, r, derrors.NotFoundf("no admin API endpoint at %s", r.URL.Path))
	}))
	return nil
}

type route struct {
	pattern string
	h       handler
}

// Routes returns the method+path patterns the API serves (for the contract test).
func (a *API) Routes() []string {
	var out []string
	for _, rt := range a.routes() {
		out = append(out, rt.pattern)
	}
	return out
}

func (a *API) routes() []route {
	const t = "/admin/v1/tenants/{tenant}"
	const ap = t + "/apps/{client_id}"
	return []route{
		{"GET /admin/v1/audit", a.listAudit},
		{"GET /admin/v1/tenants", a.listTenants},
		{"POST /admin/v1/tenants", a.createTenant},
		{"GET " + t, a.getTenant},
		{"PATCH " + t, a.updateTenant},
		{"DELETE " + t, a.deleteTenant},
		{"GET " + t + "/apps", a.listApps},
		{"POST " + t + "/apps", a.createApp},
		{"POST " + t + "/apps/import", a.importApp},
		{"GET " + ap, a.getApp},
		{"PUT " + ap, a.updateApp},
		{"DELETE " + ap, a.deleteApp},
		{"GET " + ap + "/export", a.exportApp},
		{"POST " + ap + "/secret", a.rotateSecret},
		{"GET " + ap + "/permissions", a.listPermissions},
		{"POST " + ap + "/permissions", a.createPermission},
		{"GET " + ap + "/permissions/{name}", a.getPermission},
		{"PATCH " + ap + "/permissions/{name}", a.updatePermission},
		{"DELETE " + ap + "/permissions/{name}", a.deletePermission},
		{"GET " + t + "/keys", a.listKeys},
		{"POST " + t + "/keys/rotate", a.rotateKeys},
		{"GET " + t + "/keys/certificate", a.certificate},
		{"GET " + t + "/users", a.listUsers},
		{"POST " + t + "/users", a.createUser},
		{"GET " + t + "/users/{user_id}", a.getUser},
		{"PATCH " + t + "/users/{user_id}", a.updateUser},
		{"DELETE " + t + "/users/{user_id}", a.deleteUser},
		{"PUT " + t + "/users/{user_id}/password", a.setPassword},
		{"POST " + t + "/users/{user_id}/block", a.blockUser},
		{"POST " + t + "/users/{user_id}/unblock", a.unblockUser},
		{"POST " + t + "/users/{user_id}/unlock", a.unlockUser},
		{"GET " + t + "/users/{user_id}/roles", a.getUserRoles},
		{"PUT " + t + "/users/{user_id}/roles", a.setUserRoles},
		{"GET " + t + "/users/{user_id}/access", a.getUserAccess},
		{"GET " + t + "/users/{user_id}/consents", a.listConsents},
		{"DELETE " + t + "/users/{user_id}/consents/{client_id}", a.revokeConsent},
		{"GET " + t + "/roles", a.listRoles},
		{"POST " + t + "/roles", a.createRole},
		{"GET " + t + "/roles/{name}", a.getRole},
		{"PUT " + t + "/roles/{name}", a.updateRole},
		{"DELETE " + t + "/roles/{name}", a.deleteRole},
		{"GET " + t + "/theme", a.getTheme},
		{"PUT " + t + "/theme", a.putTheme},
		{"DELETE " + t + "/theme", a.deleteTheme},
		{"GET " + t + "/integrations", a.listIntegrations},
		{"POST " + t + "/integrations", a.createIntegration},
		{"POST " + t + "/integrations/import", a.importIntegration},
		{"GET " + t + "/integrations/{name}", a.getIntegration},
		{"PUT " + t + "/integrations/{name}", a.updateIntegration},
		{"DELETE " + t + "/integrations/{name}", a.deleteIntegration},
		{"GET " + t + "/integrations/{name}/export", a.exportIntegration},
		{"POST " + t + "/integrations/{name}/test", a.testIntegration},
		{"POST " + t + "/integrations/{name}/authorize", a.authorizeIntegration},
		{"GET " + t + "/icons", a.listIcons},
		{"POST " + t + "/icons", a.addIcon},
		{"GET " + t + "/icons/{icon_id}", a.getIcon},
		{"DELETE " + t + "/icons/{icon_id}", a.removeIcon},
	}
}

// wrap authorizes the caller, runs h and renders its error as problem+json.
// A call that changes something (any method but GET) leaves one audit
// event (R-ADM-4), written in the change's own transaction when it has
// one, else right after it; a refused or failed call leaves none.
func (a *API) wrap(pattern string, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, err := a.authorize(r)
		if err == nil && r.Method != http.MethodGet && a.Audit != nil {
			ctx, p := audit.WithPending(r.Context(), a.auditEvent(r, pattern, actor, w.Header().Get("X-Request-Id")))
			r = r.WithContext(ctx)
			if err = h(w, r); err == nil {
				if e := p.Take(); e != nil {
					if werr := a.Audit.AppendAuditEvent(context.WithoutCancel(ctx), e); werr != nil {
						a.Log.ErrorContext(ctx, "audit event not written", "action", e.Action, "error", werr)
					}
				}
			}
		} else if err == nil {
			err = h(w, r)
		}
		if err != nil {
			a.problem(w, r, err)
		}
	})
}

// auditEvent is the event of an admin call: the route as its action
// ("POST /apps"), the path below the tenant as its target.
func (a *API) auditEvent(r *http.Request, pattern, actor, requestID string) *audit.Event {
	now := a.Now().UTC()
	_, path, _ := strings.Cut(pattern, " ")
	action := r.Method + " " + strings.TrimPrefix(strings.TrimPrefix(path, "/admin/v1"), "/tenants/{tenant}")
	target := strings.TrimPrefix(r.URL.Path, "/admin/v1")
	tid := r.PathValue("tenant")
	if tid != "" {
		target = strings.TrimPrefix(target, "/tenants/"+tid)
	}
	return &audit.Event{ID: audit.NewID(now), Time: now, Kind: audit.KindAdmin, TenantID: tid, Actor: actor,
		Action: action, Target: strings.TrimPrefix(target, "/"), RequestID: requestID}
}

// Problem is an RFC 9457 problem document; Field names the offending input.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Field  string `json:"field,omitempty"`
}

func (a *API) problem(w http.ResponseWriter, r *http.Request, err error) {
	status := derrors.StatusOf(err)
	p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status}
	var de *derrors.Error
	if errors.As(err, &de) {
		p.Detail, p.Field = de.Msg, de.Field
		if de.Field != "" {
			p.Detail = de.Field + ": " + de.Msg
		}
	}
	if status >= 500 {
		a.Log.ErrorContext(r.Context(), "admin request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		p.Detail = "the server could not complete the request"
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-admin"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// decode reads one JSON object of at most MaxBodyBytes, sent as
// application/json, refusing unknown fields, duplicate keys and trailing
// data, with an error that names the problem.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := readBody(w, r)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return derrors.Invalidf("body", "is empty; a JSON object is required")
	}
	return decodeBody(r, data, v)
}

// decodeOptional is decode for a body that may be empty (all fields optional).
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := readBody(w, r)
	if err != nil || len(data) == 0 {
		return err
	}
	return decodeBody(r, data, v)
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, derrors.Invalidf("body", "is larger than %d bytes", MaxBodyBytes)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, derrors.Invalidf("body", "is larger than %d bytes", MaxBodyBytes)
	case err != nil:
		return nil, derrors.Invalidf("body", "could not be read: %v", err)
	}
	return data, nil
}

// decodeBody checks the media type of a non-empty body, then decodes it.
func decodeBody(r *http.Request, data []byte, v any) error {
	if err := jsonContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var ute *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &ute):
			want := ute.Type.String()
			if ute.Type == reflect.TypeFor[app.Duration]() {
				want = `a duration such as "15m" or "720h"`
			}
			return derrors.Invalidf(jsonField(ute.Field), "has the wrong type or format (want %s)", want)
		case errors.As(err, &se):
			return derrors.Invalidf("body", "is not valid JSON (at byte %d)", se.Offset)
		case errors.Is(err, io.EOF):
			return derrors.Invalidf("body", "is empty; a JSON object is required")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return derrors.Invalidf("body", "is not valid JSON (it ends too early)")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return derrors.Invalidf(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "is not a known field")
		default:
			return derrors.Invalidf("body", "%s", err.Error())
		}
	}
	if dec.More() {
		return derrors.Invalidf("body", "must hold exactly one JSON object")
	}
	// The body is valid JSON of the right shape; now refuse what the
	// decoder silently resolves (the last of two equal keys wins).
	return duplicateKeys(data)
}

// jsonContentType accepts application/json, with parameters such as
// charset and in any letter case, and nothing else.
func jsonContentType(ct string) error {
	if ct == "" {
		return &derrors.Error{Kind: derrors.UnsupportedMediaType, Field: "Content-Type", Msg: "is missing; send the body as application/json"}
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return &derrors.Error{Kind: derrors.UnsupportedMediaType, Field: "Content-Type", Msg: fmt.Sprintf("%q is not supported; send the body as application/json", ct)}
	}
	return nil
}

// duplicateKeys refuses a key given twice in one object, at any depth,
// naming its path ("texts.footer", "permissions[2].name"). Keys are compared
// as the decoder matches them to fields: ignoring letter case.
func duplicateKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return derrors.Invalidf("body", "is not valid JSON")
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]string{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return derrors.Invalidf("body", "is not valid JSON")
				}
				key, _ := kt.(string)
				p := key
				if path != "" {
					p = path + "." + key
				}
				folded := foldKey(key)
				if first, dup := seen[folded]; dup {
					if first == key {
						return derrors.Invalidf(p, "is given twice in one object; give each key once")
					}
					return derrors.Invalidf(p, "is given twice in one object (as %q and %q; keys are matched ignoring letter case); give each key once", first, key)
				}
				seen[folded] = key
				if err := walk(p); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		}
		if err != nil {
			return derrors.Invalidf("body", "is not valid JSON")
		}
		return nil
	}
	return walk("")
}

// foldKey maps the keys encoding/json treats as the same field name to one
// string: ASCII upper case, and for other letters the smallest rune of
// their case-folding orbit (as the decoder's own folding does).
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		case r >= utf8.RuneSelf:
			for {
				f := unicode.SimpleFold(r)
				if f <= r {
					r = f
					break
				}
				r = f
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

// jsonField drops the Go names of embedded structs ("App.name" → "name")
// from a decoder's field path.
func jsonField(path string) string {
	parts := strings.Split(path, ".")
	out := parts[:0]
	for _, p := range parts {
		if p != "" && !(p[0] >= 'A' && p[0] <= 'Z') {
			out = append(out, p)
		}
	}
	return strings.Join(out, ".")
}

// List is a page of items; NextCursor is empty on the last page.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func pageFrom(r *http.Request) (tenant.Page, error) {
	limit := 0
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 500 {
			return tenant.Page{}, derrors.Invalidf("limit", "must be a number from 1 to 500")
		}
		limit = n
	}
	return tenant.NewPage(r.URL.Query().Get("cursor"), limit), nil
}

// page trims a store result fetched with p.Plus1() to p.Limit items and
// returns the cursor of the next page, empty when this is the last one.
func page[T any](items []T, p tenant.Page, key func(T) string) ([]T, string) {
	if len(items) > p.Limit {
		items = items[:p.Limit]
		return items, key(items[len(items)-1])
	}
	return items, ""
}

// authorize checks the bearer token of an admin request and returns its
// client's ID.
func (a *API) authorize(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	tok, ok := oauth.BearerToken(h)
	if !ok || tok == "" || len(tok) > 8192 {
		return "", derrors.Unauthenticatedf("a bearer token issued by the system tenant is required")
	}
	ks, err := a.Keys.Get(r.Context(), tenant.System)
	if err != nil {
		return "", err
	}
	payload, err := ks.Verify(tok, keys.TypAccessToken)
	if err != nil {
		return "", derrors.Unauthenticatedf("the bearer token is not valid")
	}
	var c struct {
		Iss      string          `json:"iss"`
		Aud      json.RawMessage `json:"aud"`
		Exp      int64           `json:"exp"`
		Nbf      int64           `json:"nbf"`
		ClientID string          `json:"client_id"`
		Scope    string          `json:"scope"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", derrors.Unauthenticatedf("the bearer token is not valid")
	}
	now := a.Now().Unix()
	const skew = 60
	if c.Iss != oidc.Issuer(a.PublicURL, tenant.System) || c.Exp == 0 || now > c.Exp+skew || now+skew < c.Nbf || !hasAudience(c.Aud, Audience) {
		return "", derrors.Unauthenticatedf("the bearer token is expired or not meant for the admin API")
	}
	scopes := strings.Fields(c.Scope)
	readOnly := r.Method == http.MethodGet || r.Method == http.MethodHead
	if !slices.Contains(scopes, ScopeAdmin) && !(readOnly && slices.Contains(scopes, ScopeRead)) {
		return "", derrors.Forbiddenf("the token's scope does not allow this call (needs %q)", ScopeAdmin)
	}
	// A deleted admin client's tokens stop working at once (R-APP-11).
	if _, err := a.Apps.Store.GetApp(r.Context(), tenant.System, c.ClientID); err != nil {
		if derrors.Is(err, derrors.NotFound) {
			return "", derrors.Unauthenticatedf("the token's client no longer exists")
		}
		return "", err
	}
	return c.ClientID, nil
}

func hasAudience(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	return json.Unmarshal(raw, &many) == nil && slices.Contains(many, want)
}

// ctxTenant resolves the {tenant} path value to an existing tenant.
func (a *API) ctxTenant(ctx context.Context, r *http.Request) (string, error) {
	name := r.PathValue("tenant")
	if err := tenant.ValidateName(name); err != nil {
		return "", derrors.NotFoundf("tenant %q not found", name)
	}
	if _, err := a.Tenants.GetTenant(ctx, name); err != nil {
		return "", err
	}
	return name, nil
}
