package adminapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// decodeServer serves POST / with decode (and POST /optional with
// decodeOptional) into a small nested body, rendering errors as the API does.
func decodeServer(t *testing.T) *httptest.Server {
	t.Helper()
	type inner struct {
		Footer string `json:"footer"`
		Title  string `json:"title"`
	}
	type body struct {
		Name  string  `json:"name"`
		Texts inner   `json:"texts"`
		Items []inner `json:"items"`
	}
	a := &API{Log: slog.New(slog.DiscardHandler)}
	serve := func(dec func(http.ResponseWriter, *http.Request, any) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var b body
			if err := dec(w, r, &b); err != nil {
				a.problem(w, r, err)
				return
			}
			_ = writeJSON(w, http.StatusOK, b)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("POST /", serve(decode))
	mux.Handle("POST /optional", serve(decodeOptional))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, contentType, body string) (int, Problem, string) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var p Problem
	_ = json.Unmarshal(raw, &p)
	return resp.StatusCode, p, string(raw)
}

func TestDecodeContentType(t *testing.T) {
	srv := decodeServer(t)
	for _, tc := range []struct {
		ct     string
		status int
	}{
		{"application/json", 200},
		{"application/json; charset=utf-8", 200},
		{"APPLICATION/JSON;Charset=UTF-8", 200},
		{"", 415},
		{"text/plain", 415},
		{"text/json", 415},
		{"application/json-patch+json", 415},
		{"application/x-www-form-urlencoded", 415},
		{"application/json; charset", 415},
	} {
		status, p, raw := post(t, srv.URL+"/", tc.ct, `{"name":"a"}`)
		if status != tc.status {
			t.Errorf("Content-Type %q: got %d %s, want %d", tc.ct, status, raw, tc.status)
			continue
		}
		if status == 415 && (p.Status != 415 || p.Field != "Content-Type" || p.Title != "Unsupported Media Type" || !strings.Contains(p.Detail, "send the body as application/json")) {
			t.Errorf("Content-Type %q: problem %s", tc.ct, raw)
		}
	}
	// An empty optional body needs no Content-Type; a non-empty one does.
	if status, _, raw := post(t, srv.URL+"/optional", "", ""); status != 200 {
		t.Errorf("empty optional body: got %d %s", status, raw)
	}
	if status, _, raw := post(t, srv.URL+"/optional", "text/plain", `{"name":"a"}`); status != 415 {
		t.Errorf("optional body as text/plain: got %d %s, want 415", status, raw)
	}
	// An empty required body is a 400 whatever its Content-Type.
	if status, p, raw := post(t, srv.URL+"/", "", ""); status != 400 || p.Detail != "body: is empty; a JSON object is required" {
		t.Errorf("empty body: got %d %s", status, raw)
	}
}

func TestDecodeDuplicateKeys(t *testing.T) {
	srv := decodeServer(t)
	for _, tc := range []struct {
		body, field, detail string
	}{
		{`{"name":"a","name":"b"}`, "name", "name: is given twice in one object; give each key once"},
		{`{"name":"a","Name":"b"}`, "Name", `Name: is given twice in one object (as "name" and "Name"; keys are matched ignoring letter case); give each key once`},
		{`{"texts":{"footer":"a","title":"t","footer":"b"}}`, "texts.footer", "texts.footer: is given twice in one object; give each key once"},
		{`{"items":[{"title":"x"},{"footer":"a","footer":"b"}]}`, "items[1].footer", "items[1].footer: is given twice in one object; give each key once"},
		{`{"texts":{"title":"t"},"texts":{"footer":"f"}}`, "texts", "texts: is given twice in one object; give each key once"},
	} {
		status, p, raw := post(t, srv.URL+"/", "application/json", tc.body)
		if status != 400 || p.Field != tc.field || p.Detail != tc.detail {
			t.Errorf("%s: got %d %s, want 400 field %q detail %q", tc.body, status, raw, tc.field, tc.detail)
		}
	}
	// The same key in sibling objects, or in an object and the one it holds, is fine.
	for _, body := range []string{
		`{"items":[{"footer":"a"},{"footer":"b"}]}`,
		`{"name":"n","texts":{"footer":"f","title":"t"}}`,
	} {
		if status, _, raw := post(t, srv.URL+"/", "application/json", body); status != 200 {
			t.Errorf("%s: got %d %s, want 200", body, status, raw)
		}
	}
}
