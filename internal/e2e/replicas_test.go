package e2e

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-id/gatehouse/internal/config"
)

func jwksKIDs(t *testing.T, inst *instance, tenant string) []string {
	t.Helper()
	r := inst.api(t, "", "GET", "/t/"+tenant+"/jwks", nil)
	if r.Status != 200 {
		t.Fatalf("jwks: %d", r.Status)
	}
	var set struct {
		Keys []struct {
			KID string   `json:"kid"`
			X5C []string `json:"x5c"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		if len(k.X5C) != 1 {
			t.Errorf("key %s has %d x5c certificates, want 1 (R-KEY-1)", k.KID, len(k.X5C))
		}
		out = append(out, k.KID)
	}
	return out
}

type keyView struct {
	KID   string `json:"kid"`
	State string `json:"state"`
}

func keyStates(t *testing.T, inst *instance, tenant string) map[string]string {
	t.Helper()
	var l struct {
		Items []keyView `json:"items"`
	}
	inst.cliJSON(t, &l, "keys", "list", "--tenant", tenant)
	m := map[string]string{}
	for _, k := range l.Items {
		m[k.State] = k.KID
	}
	return m
}

// R-KEY-2: rotation publishes the next key before it signs and keeps the old
// one published, so tokens signed before the rotation still verify.
func TestKeyRotation(t *testing.T) {
	inst := start(t, options{})
	issuer := inst.createTenant(t, "acme", "ES256")
	a := inst.createApp(t, "acme", "--type", "s2s", "--name", "svc")
	before := keyStates(t, inst, "acme")
	if before["active"] == "" || before["next"] == "" {
		t.Fatalf("a new tenant needs an active and a published next key: %v", before)
	}
	if kids := jwksKIDs(t, inst, "acme"); !strings.Contains(strings.Join(kids, ","), before["next"]) {
		t.Fatalf("next key not published: %v", kids)
	}
	old := tokenFor(t, issuer+"/oauth/token", a.ClientID, a.ClientSecret, nil)
	if _, errs, code := inst.cli(t, "keys", "rotate", "--tenant", "acme"); code != 0 {
		t.Fatal(errs)
	}
	after := keyStates(t, inst, "acme")
	if after["active"] != before["next"] || after["retired"] != before["active"] || after["next"] == "" || after["next"] == before["next"] {
		t.Fatalf("rotation: before %v after %v", before, after)
	}
	ctx := context.Background()
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	v := p.Verifier(&oidc.Config{SkipClientIDCheck: true})
	if _, err := v.Verify(ctx, old); err != nil {
		t.Fatalf("a token signed before the rotation no longer verifies: %v", err)
	}
	fresh := tokenFor(t, issuer+"/oauth/token", a.ClientID, a.ClientSecret, nil)
	idt, err := v.Verify(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	_ = idt
	if kid := headerKID(t, fresh); kid != after["active"] {
		t.Fatalf("new token signed by %s, want the new active key %s", kid, after["active"])
	}
}

func headerKID(t *testing.T, jwt string) string {
	t.Helper()
	h, _, _ := strings.Cut(jwt, ".")
	b, err := decodeSegment(h)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		KID string `json:"kid"`
		Typ string `json:"typ"`
	}
	if err := json.Unmarshal(b, &hdr); err != nil {
		t.Fatal(err)
	}
	if hdr.Typ != "at+jwt" {
		t.Errorf("typ = %q, want at+jwt (RFC 9068 §2.1)", hdr.Typ)
	}
	return hdr.KID
}

// R-RUN-2: two Gatehouse processes on one PostgreSQL. An app created through
// one is usable at the other at once; a key rotated on one is published by
// the other within seconds.
func TestReplicasOnPostgres(t *testing.T) {
	dsn := postgresURL(t)
	key := newMasterKey()
	one := start(t, options{database: dsn, masterKey: key})
	// Replica two's cache outlives the test unless a notification drops it.
	two := start(t, options{database: dsn, masterKey: key, dataDir: one.DataDir, mutate: func(c *config.Config) { c.CacheMaxAge = time.Minute }})
	one.createTenant(t, "shared", "ES256")
	a := one.createApp(t, "shared", "--type", "s2s", "--name", "svc")
	// The issuer is each replica's public URL here; in production every
	// replica has the same --public-url behind a load balancer.
	r := postForm(t, two.URL+"/t/shared/oauth/token", url.Values{"grant_type": {"client_credentials"}}, a.ClientID, a.ClientSecret)
	if r.Status != 200 {
		t.Fatalf("replica two refused an app created on replica one: %d %s", r.Status, r.Raw)
	}
	before := jwksKIDs(t, two, "shared")
	if _, errs, code := one.cli(t, "keys", "rotate", "--tenant", "shared"); code != 0 {
		t.Fatal(errs)
	}
	states := keyStates(t, one, "shared")
	deadline := time.Now().Add(5 * time.Second)
	for {
		kids := strings.Join(jwksKIDs(t, two, "shared"), ",")
		if strings.Contains(kids, states["next"]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica two still publishes %v, not the new next key %s", before, states["next"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	tok := r.Body["access_token"].(string)
	_ = tok
	r = postForm(t, two.URL+"/t/shared/oauth/token", url.Values{"grant_type": {"client_credentials"}}, a.ClientID, a.ClientSecret)
	if kid := headerKID(t, r.Body["access_token"].(string)); kid != states["active"] {
		t.Fatalf("replica two signs with %s after the rotation, want %s", kid, states["active"])
	}
	// A deleted app is refused by the other replica at once (R-APP-11):
	// its cached copy is dropped when the delete commits, by the
	// notification PostgreSQL delivers to replica two (milliseconds; the
	// refusal must come long before --cache-max-age could explain it).
	if _, errs, code := one.cli(t, "app", "delete", "--tenant", "shared", a.ClientID, "--confirm", "svc"); code != 0 {
		t.Fatal(errs)
	}
	deleted := time.Now()
	for {
		r := postForm(t, two.URL+"/t/shared/oauth/token", url.Values{"grant_type": {"client_credentials"}}, a.ClientID, a.ClientSecret)
		if r.Status == 401 {
			break
		}
		if time.Since(deleted) > 500*time.Millisecond {
			t.Fatalf("replica two still serves a deleted app %v after the delete: %d", time.Since(deleted), r.Status)
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("replica two refused the deleted app %v after the delete returned", time.Since(deleted))
}

// R-RUN-2: log in through one replica, exchange the code and refresh at the
// other; a replica behind the same public URL serves any request.
func TestLoginAcrossReplicas(t *testing.T) {
	dsn := postgresURL(t)
	key := newMasterKey()
	one := start(t, options{database: dsn, masterKey: key})
	two := start(t, options{database: dsn, masterKey: key, dataDir: one.DataDir, mutate: func(c *config.Config) { c.PublicURL = one.URL }})
	one.createTenant(t, "acme", "ES256")
	admin := one.adminToken(t)
	r := one.api(t, admin, "POST", "/admin/v1/tenants/acme/users", map[string]any{"username": "alice", "email": "alice@example.com", "password": "correct horse battery"})
	if r.Status != 201 {
		t.Fatalf("user: %d %s", r.Status, r.Raw)
	}
	web := one.createApp(t, "acme", "--type", "web", "--name", "portal", "--redirect-uri", "https://portal.example.com/cb", "--first-party")
	cfg := &oauth2.Config{ClientID: web.ClientID, ClientSecret: web.ClientSecret, RedirectURL: "https://portal.example.com/cb",
		Scopes: []string{"openid", "offline_access"}, Endpoint: oauth2.Endpoint{AuthURL: one.URL + "/t/acme/oauth/authorize", TokenURL: two.URL + "/t/acme/oauth/token"}}
	q := newBrowser(t).login(cfg.AuthCodeURL("s"), one.URL, "alice", "correct horse battery", "")
	ctx := context.Background()
	tok, err := cfg.Exchange(ctx, q.Get("code"))
	if err != nil {
		t.Fatalf("exchange at replica two: %v", err)
	}
	p, err := oidc.NewProvider(ctx, one.URL+"/t/acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verifier(&oidc.Config{ClientID: web.ClientID}).Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Fatalf("ID token from replica two: %v", err)
	}
	// Refresh at replica one with the token replica two issued.
	cfgOne := *cfg
	cfgOne.Endpoint.TokenURL = one.URL + "/t/acme/oauth/token"
	next, err := cfgOne.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil || next.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh at replica one: %v", err)
	}
}

// Issue 8 §7, R-OID-6, R-RUN-2: failures at one replica lock the account at
// the other (both derive the counters' key from the same master key), under
// its email as under its username; the admin's unlock at either lifts it.
func TestLockoutAcrossReplicas(t *testing.T) {
	dsn := postgresURL(t)
	key := newMasterKey()
	lockAt3 := func(c *config.Config) { c.LockoutThreshold = 3 }
	one := start(t, options{database: dsn, masterKey: key, mutate: lockAt3})
	two := start(t, options{database: dsn, masterKey: key, dataDir: one.DataDir, mutate: func(c *config.Config) { lockAt3(c); c.PublicURL = one.URL }})
	one.createTenant(t, "acme", "ES256")
	admin := one.adminToken(t)
	r := one.api(t, admin, "POST", "/admin/v1/tenants/acme/users", map[string]any{"username": "alice", "email": "alice@example.com", "password": "correct horse battery"})
	if r.Status != 201 {
		t.Fatalf("user: %d %s", r.Status, r.Raw)
	}
	userID, _ := r.Body["id"].(string)
	web := one.createApp(t, "acme", "--type", "web", "--name", "legacy", "--redirect-uri", "https://legacy.example.com/cb", "--first-party",
		"--grant-type", "authorization_code", "--grant-type", "password")
	grant := func(inst *instance, username, password string) apiResult {
		t.Helper()
		return postForm(t, inst.URL+"/t/acme/oauth/token", url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}, web.ClientID, web.ClientSecret)
	}
	for range 3 {
		if r := grant(one, "alice", "wrong"); r.Status != 400 || !strings.Contains(r.Raw, "incorrect") {
			t.Fatalf("wrong password: %d %s", r.Status, r.Raw)
		}
	}
	for _, name := range []string{"alice", "ALICE@example.com"} {
		if r := grant(two, name, "correct horse battery"); r.Status != 400 || !strings.Contains(r.Raw, "locked") {
			t.Fatalf("%s at the other replica after the lockout: %d %s", name, r.Status, r.Raw)
		}
	}
	if r := two.api(t, admin, "POST", "/admin/v1/tenants/acme/users/"+userID+"/unlock", nil); r.Status != 204 {
		t.Fatalf("unlock: %d %s", r.Status, r.Raw)
	}
	if r := grant(one, "alice@example.com", "correct horse battery"); r.Status != 200 {
		t.Fatalf("after unlock: %d %s", r.Status, r.Raw)
	}
}
