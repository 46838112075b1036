package gatehouse_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencyDirection enforces ARCHITECTURE §2 on direct imports:
// cmd → cli → server → features → domain → leaves.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/gatehouse-id/gatehouse/"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, mod) || imp == "net/http" {
				imports[pkg] = append(imports[pkg], strings.TrimPrefix(imp, mod))
			}
		}
	}
	leaves := []string{"internal/derrors", "internal/oauth", "internal/seal", "internal/middleware", "internal/store/migrations", "internal/ui", "internal/text", "internal/ratelimit"}
	// text is the rule for stored free text (no control characters), which
	// the leaf ui applies to themes as the domain packages do to their
	// fields: the one internal import a leaf may have.
	const textRule = "internal/text"
	domain := []string{"internal/tenant", "internal/app", "internal/keys", "internal/user", "internal/grant", "internal/claims", "internal/integration", "internal/audit"}
	// claims is pure functions over an app and a user: the one domain
	// package that combines two others.
	allowedDomain := map[string][]string{"internal/claims": {"internal/app", "internal/user"}}
	features := []string{"internal/oidc", "internal/adminapi", "internal/login", "internal/saml", "internal/bff", "internal/outbound"}
	// Features do not import each other; the admin API may use the protocol
	// package's endpoint URLs (issuer, paths) to show an app's endpoints, and
	// protocol packages may use the login pages (ARCHITECTURE §2).
	allowed := map[string][]string{"internal/adminapi": {"internal/oidc"}, "internal/oidc": {"internal/login"}}
	internalOf := func(pkg string) []string {
		var out []string
		for _, imp := range imports[pkg] {
			if strings.HasPrefix(imp, "internal/") {
				out = append(out, imp)
			}
		}
		return out
	}
	for _, p := range leaves {
		got := internalOf(p)
		if p != textRule {
			got = slices.DeleteFunc(got, func(imp string) bool { return imp == textRule })
		}
		if len(got) > 0 {
			t.Errorf("leaf %s imports %v", p, got)
		}
	}
	for _, p := range domain {
		for _, imp := range imports[p] {
			switch {
			case imp == "net/http":
				t.Errorf("domain %s imports net/http", p)
			case strings.HasPrefix(imp, "internal/store"):
				t.Errorf("domain %s imports %s", p, imp)
			case slices.Contains(domain, imp) && imp != "internal/tenant" && !slices.Contains(allowedDomain[p], imp):
				t.Errorf("domain %s imports domain %s (refer by ID; only the tenant root is shared)", p, imp)
			case slices.Contains(features, imp) || imp == "internal/server" || imp == "internal/cli":
				t.Errorf("domain %s imports %s", p, imp)
			}
		}
	}
	for _, p := range features {
		for _, imp := range internalOf(p) {
			if (slices.Contains(features, imp) && !slices.Contains(allowed[p], imp)) || strings.HasPrefix(imp, "internal/store") || imp == "internal/server" || imp == "internal/cli" {
				t.Errorf("feature %s imports %s", p, imp)
			}
		}
	}
	for p := range imports {
		for _, imp := range imports[p] {
			if strings.HasPrefix(imp, "internal/store") && !strings.HasPrefix(p, "internal/store") && p != "internal/server" {
				t.Errorf("%s imports %s: only server (and tests) may", p, imp)
			}
		}
	}
	if got := internalOf("cmd/gatehouse"); !slices.Equal(got, []string{"internal/cli"}) {
		t.Errorf("cmd/gatehouse imports %v, want only internal/cli", got)
	}
}
