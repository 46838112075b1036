package adminapi_test

// The contract test: api/openapi.yaml (served as gatehouse.OpenAPI) and the
// routes of adminapi.API must describe the same API. Adding a route without
// documenting it, or documenting an operation that is not routed, fails here.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gatehouse-id/gatehouse"
	"github.com/gatehouse-id/gatehouse/internal/adminapi"
)

// docsRoutes are served by API.Register outside API.Routes(): the document
// itself, without authentication.
var docsRoutes = []string{
	"GET /admin/v1/openapi.yaml",
	"GET /admin/v1/openapi.json",
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Security   []map[string][]string                 `json:"security"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas         map[string]json.RawMessage `json:"schemas"`
		Responses       map[string]json.RawMessage `json:"responses"`
		Parameters      map[string]json.RawMessage `json:"parameters"`
		RequestBodies   map[string]json.RawMessage `json:"requestBodies"`
		Headers         map[string]json.RawMessage `json:"headers"`
		SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
	} `json:"components"`
}

type operation struct {
	OperationID string                     `json:"operationId"`
	Summary     string                     `json:"summary"`
	Security    *[]map[string][]string     `json:"security"`
	Parameters  []json.RawMessage          `json:"parameters"`
	Responses   map[string]json.RawMessage `json:"responses"`
	RequestBody json.RawMessage            `json:"requestBody"`
	Scopes      []string                   `json:"x-scopes"`
}

type parameter struct {
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

type response struct {
	Content map[string]json.RawMessage `json:"content"`
}

// contract is the parsed document: the raw JSON tree (for $ref resolution)
// and the typed view.
type contract struct {
	tree any
	doc  openAPIDoc
	ops  map[string]operation // "METHOD path"
	// pathParams are the path-level parameters of each path.
	pathParams map[string][]json.RawMessage
}

func loadContract(t *testing.T) *contract {
	t.Helper()
	js, err := yaml.YAMLToJSON(gatehouse.OpenAPI)
	if err != nil {
		t.Fatalf("api/openapi.yaml is not valid YAML: %v", err)
	}
	if !json.Valid(js) {
		t.Fatal("api/openapi.yaml does not convert to valid JSON")
	}
	c := &contract{ops: map[string]operation{}, pathParams: map[string][]json.RawMessage{}}
	if err := json.Unmarshal(js, &c.tree); err != nil {
		t.Fatalf("unmarshal document: %v", err)
	}
	if err := json.Unmarshal(js, &c.doc); err != nil {
		t.Fatalf("unmarshal document: %v", err)
	}
	if !strings.HasPrefix(c.doc.OpenAPI, "3.0.") {
		t.Fatalf("openapi = %q, want 3.0.x", c.doc.OpenAPI)
	}
	for path, item := range c.doc.Paths {
		for key, raw := range item {
			if key == "parameters" {
				var ps []json.RawMessage
				if err := json.Unmarshal(raw, &ps); err != nil {
					t.Fatalf("%s: parameters: %v", path, err)
				}
				c.pathParams[path] = ps
				continue
			}
			if !slices.Contains(httpMethods, key) {
				continue
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", strings.ToUpper(key), path, err)
			}
			c.ops[strings.ToUpper(key)+" "+path] = op
		}
	}
	return c
}

// resolve follows a local JSON pointer ("#/components/schemas/App").
func (c *contract) resolve(ref string) (any, bool) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	cur := c.tree
	for _, tok := range strings.Split(p, "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// deref decodes raw, or what its $ref points at, into into. It reports
// false (and the error) when the $ref does not resolve.
func (c *contract) deref(t *testing.T, where string, raw json.RawMessage, into any) bool {
	t.Helper()
	var r struct {
		Ref string `json:"$ref"`
	}
	_ = json.Unmarshal(raw, &r)
	if r.Ref != "" {
		v, ok := c.resolve(r.Ref)
		if !ok {
			t.Errorf("%s: $ref %q does not resolve", where, r.Ref)
			return false
		}
		raw, _ = json.Marshal(v)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		t.Errorf("%s: %v", where, err)
		return false
	}
	return true
}

func routeSet(t *testing.T) []string {
	t.Helper()
	routes := (&adminapi.API{}).Routes()
	if len(routes) == 0 {
		t.Fatal("API.Routes() is empty")
	}
	for _, r := range routes {
		method, path, ok := strings.Cut(r, " ")
		if !ok || method != strings.ToUpper(method) || !strings.HasPrefix(path, "/admin/v1/") {
			t.Errorf("route %q is not of the form \"METHOD /admin/v1/...\" this test understands", r)
		}
	}
	return routes
}

// TestContractRoutes: every routed operation is documented and every
// documented operation is routed.
func TestContractRoutes(t *testing.T) {
	c := loadContract(t)
	routes := routeSet(t)

	var undocumented, unrouted, duplicated []string
	seen := map[string]bool{}
	for _, r := range routes {
		if seen[r] {
			duplicated = append(duplicated, r)
		}
		seen[r] = true
		if _, ok := c.ops[r]; !ok {
			undocumented = append(undocumented, r)
		}
	}
	for _, d := range docsRoutes {
		if _, ok := c.ops[d]; !ok {
			undocumented = append(undocumented, d)
		}
		seen[d] = true
	}
	for op := range c.ops {
		if !seen[op] {
			unrouted = append(unrouted, op)
		}
	}
	sort.Strings(undocumented)
	sort.Strings(unrouted)
	for _, r := range undocumented {
		t.Errorf("route %q is served but not documented in api/openapi.yaml", r)
	}
	for _, op := range unrouted {
		t.Errorf("operation %q is documented in api/openapi.yaml but not routed by adminapi.API", op)
	}
	for _, r := range duplicated {
		t.Errorf("route %q is listed twice in API.routes()", r)
	}
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// TestContractOperations: every operation is named, summarised, secured
// consistently and answers 401/403 when secured.
func TestContractOperations(t *testing.T) {
	c := loadContract(t)
	if len(c.doc.Security) == 0 {
		t.Error("the document has no global security requirement")
	}
	for _, req := range c.doc.Security {
		for name := range req {
			if _, ok := c.doc.Components.SecuritySchemes[name]; !ok {
				t.Errorf("global security uses undefined scheme %q", name)
			}
		}
	}
	if _, ok := c.doc.Components.SecuritySchemes["bearerAuth"]; !ok {
		t.Error("components.securitySchemes.bearerAuth is missing")
	}

	ids := map[string]string{}
	keys := make([]string, 0, len(c.ops))
	for key := range c.ops {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		op := c.ops[key]
		method, path, _ := strings.Cut(key, " ")
		if op.OperationID == "" {
			t.Errorf("%s: no operationId", key)
		} else if other, dup := ids[op.OperationID]; dup {
			t.Errorf("%s: operationId %q is also used by %s", key, op.OperationID, other)
		} else {
			ids[op.OperationID] = key
		}
		if strings.TrimSpace(op.Summary) == "" {
			t.Errorf("%s: no summary", key)
		}
		if strings.Contains(op.Summary, "\n") {
			t.Errorf("%s: the summary must be one line", key)
		}

		secured := len(c.doc.Security) > 0
		if op.Security != nil {
			secured = len(*op.Security) > 0
		}
		isDocs := slices.Contains(docsRoutes, key)
		switch {
		case isDocs && secured:
			t.Errorf("%s: the API description is served without authentication; mark it security: []", key)
		case !isDocs && !secured:
			t.Errorf("%s: every admin operation needs a bearer token; it must not override security to []", key)
		}
		if secured {
			for _, code := range []string{"401", "403"} {
				if _, ok := op.Responses[code]; !ok {
					t.Errorf("%s: secured, but no %s response", key, code)
				}
			}
			// admin allows every call, admin:read only GET.
			want := []string{adminapi.ScopeAdmin}
			if method == http.MethodGet {
				want = append(want, adminapi.ScopeRead)
			}
			got := slices.Clone(op.Scopes)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: x-scopes = %v, want %v", key, op.Scopes, want)
			}
		}

		// A body that is not application/json is refused with 415.
		if op.RequestBody != nil {
			if _, ok := op.Responses["415"]; !ok {
				t.Errorf("%s: takes a request body, but no 415 response", key)
			}
		}

		success := 0
		for code, raw := range op.Responses {
			var r response
			if !c.deref(t, key+" response "+code, raw, &r) {
				continue
			}
			if strings.HasPrefix(code, "2") {
				success++
				continue
			}
			if code[0] == '4' || code[0] == '5' {
				if _, ok := r.Content["application/problem+json"]; !ok {
					t.Errorf("%s: response %s is not application/problem+json", key, code)
				}
			}
		}
		if success == 0 {
			t.Errorf("%s: no 2xx response", key)
		}

		// Every {param} of the path is a declared path parameter, and
		// nothing else is.
		declared := map[string]bool{}
		for _, raw := range append(slices.Clone(c.pathParams[path]), op.Parameters...) {
			var p parameter
			if !c.deref(t, key+" parameter", raw, &p) {
				continue
			}
			if p.In != "path" {
				continue
			}
			if !p.Required {
				t.Errorf("%s: path parameter %q must be required", key, p.Name)
			}
			declared[p.Name] = true
		}
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter {%s} is not declared", key, m[1])
			}
			delete(declared, m[1])
		}
		for name := range declared {
			t.Errorf("%s: declares path parameter %q that is not in the path", key, name)
		}
	}
}

// TestContractRefs: every $ref resolves, to a component of the kind its
// pointer names, and every schema component is used.
func TestContractRefs(t *testing.T) {
	c := loadContract(t)
	comps := map[string]map[string]json.RawMessage{
		"schemas":         c.doc.Components.Schemas,
		"responses":       c.doc.Components.Responses,
		"parameters":      c.doc.Components.Parameters,
		"requestBodies":   c.doc.Components.RequestBodies,
		"headers":         c.doc.Components.Headers,
		"securitySchemes": c.doc.Components.SecuritySchemes,
	}
	used := map[string]bool{}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"]; ok {
				s, _ := ref.(string)
				rest, local := strings.CutPrefix(s, "#/components/")
				kind, name, _ := strings.Cut(rest, "/")
				if !local || comps[kind] == nil || name == "" || strings.Contains(name, "/") {
					t.Errorf("%s: $ref %q does not point at a component (#/components/<kind>/<name>)", where, s)
				} else if _, ok := comps[kind][name]; !ok {
					t.Errorf("%s: $ref %q does not resolve: components.%s has no %q", where, s, kind, name)
				}
				used[s] = true
			}
			for k, e := range v {
				walk(where+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s/%d", where, i), e)
			}
		}
	}
	walk("#", c.tree)
	if len(used) == 0 {
		t.Fatal("the document has no $ref at all")
	}
	for name := range c.doc.Components.Schemas {
		if !used["#/components/schemas/"+name] {
			t.Errorf("components.schemas.%s is never used", name)
		}
	}
}

// TestContractServed: API.Register accepts the document and serves it as
// YAML and as JSON, without a token.
func TestContractServed(t *testing.T) {
	api := &adminapi.API{OpenAPI: gatehouse.OpenAPI}
	mux := http.NewServeMux()
	if err := api.Register(mux); err != nil {
		t.Fatalf("Register: %v", err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string) (string, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return resp.Header.Get("Content-Type"), b
	}

	ct, body := get("/admin/v1/openapi.yaml")
	if ct != "application/yaml" || string(body) != string(gatehouse.OpenAPI) {
		t.Errorf("GET openapi.yaml: Content-Type %q, body equal to the file: %v", ct, string(body) == string(gatehouse.OpenAPI))
	}
	ct, body = get("/admin/v1/openapi.json")
	if ct != "application/json" {
		t.Errorf("GET openapi.json: Content-Type %q", ct)
	}
	var served map[string]any
	if err := json.Unmarshal(body, &served); err != nil {
		t.Fatalf("GET openapi.json is not valid JSON: %v", err)
	}
	want, err := yaml.YAMLToJSON(gatehouse.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	var wantDoc map[string]any
	if err := json.Unmarshal(want, &wantDoc); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(served)
	b, _ := json.Marshal(wantDoc)
	if string(a) != string(b) {
		t.Error("GET openapi.json is not the YAML document converted to JSON")
	}
	if served["openapi"] != "3.0.3" {
		t.Errorf("served openapi = %v, want 3.0.3", served["openapi"])
	}
}
