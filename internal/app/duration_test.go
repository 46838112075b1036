package app_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/app"
)

// Issue 8 §7: the decoder writes the field path into the error a Duration
// returns; a shared error value made the path grow with every bad duration
// ("access_token_lifetime.access_token_lifetime").
func TestBadDurationNamesExactlyItsField(t *testing.T) {
	for i, tc := range []struct{ body, field string }{
		{`{"access_token_lifetime":"soon"}`, "access_token_lifetime"},
		{`{"access_token_lifetime":"soon"}`, "access_token_lifetime"},
		{`{"id_token_lifetime":-5}`, "id_token_lifetime"},
		{`{"refresh_token_lifetime":true}`, "refresh_token_lifetime"},
		{`{"access_token_lifetime":"1x"}`, "access_token_lifetime"},
	} {
		var a app.App
		err := json.Unmarshal([]byte(tc.body), &a)
		var ute *json.UnmarshalTypeError
		if !errors.As(err, &ute) {
			t.Fatalf("#%d %s: err = %v, want a *json.UnmarshalTypeError", i, tc.body, err)
		}
		if ute.Field != tc.field {
			t.Errorf("#%d %s: field %q, want %q", i, tc.body, ute.Field, tc.field)
		}
	}
}
