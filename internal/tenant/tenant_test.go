package tenant_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

// checkErr wants no error when field is "", else an Invalid error on field.
func checkErr(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Errorf("got error %q, want none", err)
		}
		return
	}
	var de *derrors.Error
	if !errors.As(err, &de) || de.Kind != derrors.Invalid || de.Field != field {
		t.Errorf("got %#v, want an Invalid error on field %q", err, field)
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name      string
		wantField string
	}{
		{"a", ""},
		{"0", ""},
		{"acme", ""},
		{"acme-corp", ""},
		{"a-b-c", ""},
		{"a--b", ""},
		{"123", ""},
		{"system", ""},
		{strings.Repeat("a", 63), ""},
		{"", "name"},
		{strings.Repeat("a", 64), "name"},
		{"-acme", "name"},
		{"acme-", "name"},
		{"-", "name"},
		{"Acme", "name"},
		{"ACME", "name"},
		{"ac_me", "name"},
		{"ac.me", "name"},
		{"ac me", "name"},
		{"acme/evil", "name"},
		{"..", "name"},
		{"äcme", "name"},
		{"acme\n", "name"},
		{"acme\x00", "name"},
		{"\xff", "name"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.name), func(t *testing.T) {
			checkErr(t, tenant.ValidateName(tc.name), tc.wantField)
			checkErr(t, (&tenant.Tenant{Name: tc.name}).Validate(), tc.wantField)
		})
	}
}

func TestTenantValidate(t *testing.T) {
	tests := []struct {
		name      string
		in        tenant.Tenant
		want      tenant.Tenant // after Validate, when valid
		wantField string
	}{
		{"defaults", tenant.Tenant{Name: "acme"}, tenant.Tenant{Name: "acme", DisplayName: "acme", SigningAlg: "RS256", ConsentPolicy: "remember"}, ""},
		{"kept", tenant.Tenant{Name: "acme", DisplayName: "ACME Corp.", SigningAlg: "ES256"}, tenant.Tenant{Name: "acme", DisplayName: "ACME Corp.", SigningAlg: "ES256", ConsentPolicy: "remember"}, ""},
		{"eddsa", tenant.Tenant{Name: "acme", SigningAlg: "EdDSA"}, tenant.Tenant{Name: "acme", DisplayName: "acme", SigningAlg: "EdDSA", ConsentPolicy: "remember"}, ""},
		{"200 rune display name", tenant.Tenant{Name: "acme", DisplayName: strings.Repeat("é", 200)}, tenant.Tenant{Name: "acme", DisplayName: strings.Repeat("é", 200), SigningAlg: "RS256", ConsentPolicy: "remember"}, ""},
		{"201 rune display name", tenant.Tenant{Name: "acme", DisplayName: strings.Repeat("é", 201)}, tenant.Tenant{}, "display_name"},
		{"bad utf8 display name", tenant.Tenant{Name: "acme", DisplayName: "AC\xffME"}, tenant.Tenant{}, "display_name"},
		{"lower-case alg", tenant.Tenant{Name: "acme", SigningAlg: "rs256"}, tenant.Tenant{}, "signing_alg"},
		{"HS256", tenant.Tenant{Name: "acme", SigningAlg: "HS256"}, tenant.Tenant{}, "signing_alg"},
		{"none", tenant.Tenant{Name: "acme", SigningAlg: "none"}, tenant.Tenant{}, "signing_alg"},
		{"PS256", tenant.Tenant{Name: "acme", SigningAlg: "PS256"}, tenant.Tenant{}, "signing_alg"},
		{"bad name", tenant.Tenant{Name: "Acme", SigningAlg: "RS256"}, tenant.Tenant{}, "name"},
		{"session consent", tenant.Tenant{Name: "acme", ConsentPolicy: "session"}, tenant.Tenant{Name: "acme", DisplayName: "acme", SigningAlg: "RS256", ConsentPolicy: "session"}, ""},
		{"remember consent", tenant.Tenant{Name: "acme", ConsentPolicy: "remember"}, tenant.Tenant{Name: "acme", DisplayName: "acme", SigningAlg: "RS256", ConsentPolicy: "remember"}, ""},
		{"upper-case consent policy", tenant.Tenant{Name: "acme", ConsentPolicy: "Session"}, tenant.Tenant{}, "consent_policy"},
		{"unknown consent policy", tenant.Tenant{Name: "acme", ConsentPolicy: "never"}, tenant.Tenant{}, "consent_policy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in
			err := got.Validate()
			checkErr(t, err, tc.wantField)
			if tc.wantField == "" && got != tc.want {
				t.Errorf("after Validate: got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestNewPage(t *testing.T) {
	for _, tc := range []struct {
		limit, want int
	}{
		{-1, 100}, {0, 100}, {1, 1}, {100, 100}, {500, 500}, {501, 500}, {1 << 30, 500},
	} {
		p := tenant.NewPage("cursor", tc.limit)
		if p.Limit != tc.want || p.Cursor != "cursor" {
			t.Errorf("NewPage(%q, %d) = %+v, want limit %d", "cursor", tc.limit, p, tc.want)
		}
	}
}

func TestPagePlus1(t *testing.T) {
	p := tenant.NewPage("c", 10).Plus1()
	if p.Limit != 11 || p.Cursor != "c" {
		t.Errorf("Plus1 = %+v, want limit 11 and the same cursor", p)
	}
}

var tenantNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// FuzzValidateName: a tenant name is accepted exactly when it is a DNS label
// of R-TEN-2's alphabet.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"a", "acme", "acme-corp", "-a", "a-", "A", strings.Repeat("a", 63), strings.Repeat("a", 64), "", "a_b", "é", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := tenant.ValidateName(name)
		match := tenantNameRE.MatchString(name)
		if err == nil && !match {
			t.Fatalf("accepted %q, which R-TEN-2 forbids", name)
		}
		if err != nil && match {
			t.Fatalf("refused %q, which R-TEN-2 allows: %v", name, err)
		}
		if err != nil {
			var de *derrors.Error
			if !errors.As(err, &de) || de.Kind != derrors.Invalid || de.Field != "name" {
				t.Fatalf("refused %q with %#v, want an Invalid error on name", name, err)
			}
		}
	})
}
