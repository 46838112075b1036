package storetest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	grantpkg "github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/store"
)

// RunGrants is the conformance suite of grantpkg.Store (R-OID-2, R-OID-3,
// R-OID-10, R-APP-11).
func RunGrants(t *testing.T, open func(t *testing.T) *store.DB) {
	type fixture struct {
		db       *store.DB
		clientID string
		userID   string
	}
	setup := func(t *testing.T) fixture {
		db := open(t)
		mkTenant(t, db, "acme")
		a, _ := mkApp(t, db, "acme", "portal")
		u := mkUser(t, db, "acme", "alice")
		return fixture{db, a.ClientID, u.ID}
	}
	now := time.Now().UTC().Truncate(time.Microsecond)

	t.Run("Requests", func(t *testing.T) {
		f := setup(t)
		r := &grantpkg.Request{ID: grantpkg.NewID(), ClientID: f.clientID, RedirectURI: "https://portal.example.com/cb", ResponseType: "code",
			Scope: []string{"openid", "profile"}, State: "s", Nonce: "n", CodeChallenge: "c", CodeChallengeMethod: "S256", MaxAge: -1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		must(t, f.db.CreateRequest(t.Context(), "acme", r))
		got, err := f.db.GetRequest(t.Context(), "acme", r.ID)
		must(t, err)
		diff(t, "request", r, got)
		mkTenant(t, f.db, "other")
		_, err = f.db.GetRequest(t.Context(), "other", r.ID)
		wantErr(t, "GetRequest(other tenant)", err, derrors.NotFound, "")
		must(t, f.db.DeleteRequest(t.Context(), "acme", r.ID))
		_, err = f.db.GetRequest(t.Context(), "acme", r.ID)
		wantErr(t, "GetRequest(deleted)", err, derrors.NotFound, "")
	})

	t.Run("SAML participants and logout by sid R-SML-1", func(t *testing.T) {
		f := setup(t)
		ctx := t.Context()
		s := &grantpkg.Session{Hash: grantpkg.Hash(grantpkg.NewSecret()), SID: grantpkg.NewID(), UserID: f.userID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		must(t, f.db.CreateSession(ctx, "acme", s))
		b, _ := mkApp(t, f.db, "acme", "wiki")
		p1 := &grantpkg.Participant{SID: s.SID, ClientID: f.clientID, NameID: "old", NameIDFormat: "f", ExpiresAt: s.ExpiresAt}
		must(t, f.db.AddParticipant(ctx, "acme", p1))
		p1.NameID = "alice@example.com"
		must(t, f.db.AddParticipant(ctx, "acme", p1)) // a second sign-in replaces the NameID
		p2 := &grantpkg.Participant{SID: s.SID, ClientID: b.ClientID, NameID: f.userID, NameIDFormat: "g", ExpiresAt: s.ExpiresAt}
		must(t, f.db.AddParticipant(ctx, "acme", p2))
		got, err := f.db.Participants(ctx, "acme", s.SID)
		must(t, err)
		want := []grantpkg.Participant{*p1, *p2}
		if want[0].ClientID > want[1].ClientID {
			want[0], want[1] = want[1], want[0]
		}
		diff(t, "participants", want, got)
		mkTenant(t, f.db, "other")
		if got, _ := f.db.Participants(ctx, "other", s.SID); len(got) != 0 {
			t.Errorf("another tenant sees %d participants", len(got))
		}
		_, err = f.db.EndSessionBySID(ctx, "other", s.SID)
		wantErr(t, "EndSessionBySID(other tenant)", err, derrors.NotFound, "")
		ended, err := f.db.EndSessionBySID(ctx, "acme", s.SID)
		must(t, err)
		diff(t, "ended session", s, ended)
		_, err = f.db.GetSession(ctx, "acme", s.Hash)
		wantErr(t, "GetSession(ended by sid)", err, derrors.NotFound, "")
		must(t, f.db.DeleteParticipants(ctx, "acme", s.SID))
		if got, _ := f.db.Participants(ctx, "acme", s.SID); len(got) != 0 {
			t.Errorf("%d participants after DeleteParticipants", len(got))
		}
	})

	t.Run("Sessions R-OID-10", func(t *testing.T) {
		f := setup(t)
		s := &grantpkg.Session{Hash: grantpkg.Hash(grantpkg.NewSecret()), SID: grantpkg.NewID(), UserID: f.userID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		must(t, f.db.CreateSession(t.Context(), "acme", s))
		got, err := f.db.GetSession(t.Context(), "acme", s.Hash)
		must(t, err)
		diff(t, "session", s, got)
		must(t, f.db.DeleteSession(t.Context(), "acme", s.Hash))
		_, err = f.db.GetSession(t.Context(), "acme", s.Hash)
		wantErr(t, "GetSession(deleted)", err, derrors.NotFound, "")
	})

	t.Run("Codes are single use R-OID-2", func(t *testing.T) {
		f := setup(t)
		c := &grantpkg.Code{Hash: grantpkg.Hash(grantpkg.NewSecret()), ClientID: f.clientID, UserID: f.userID, SID: "sid", RedirectURI: "https://portal.example.com/cb",
			Scope: []string{"openid"}, Nonce: "n", CodeChallenge: "ch", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		must(t, f.db.CreateCode(t.Context(), "acme", c, nil))
		// Redemptions race, each with the family it would create: exactly
		// one wins, and only its family is stored, with its refresh token.
		var wg sync.WaitGroup
		errs := make([]error, 8)
		firsts := make([]string, len(errs))
		fams := make([]*grantpkg.Family, len(errs))
		refreshes := make([]*grantpkg.Refresh, len(errs))
		for i := range errs {
			fams[i] = &grantpkg.Family{ID: grantpkg.NewID(), ClientID: f.clientID, UserID: f.userID, SID: "sid", Scope: []string{"openid"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			refreshes[i] = &grantpkg.Refresh{Hash: grantpkg.Hash(grantpkg.NewSecret()), FamilyID: fams[i].ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			wg.Add(1)
			go func() {
				defer wg.Done()
				firsts[i], errs[i] = f.db.RedeemCode(t.Context(), "acme", c.Hash, now, fams[i], refreshes[i])
			}()
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case errors.Is(err, grantpkg.ErrReused):
			default:
				t.Fatalf("redeem %d: %v (winner %d)", i, err, winner)
			}
		}
		if winner < 0 {
			t.Fatalf("no redemption won: %v", errs)
		}
		for i := range errs {
			_, ferr := f.db.GetFamily(t.Context(), "acme", fams[i].ID)
			_, rerr := f.db.GetRefresh(t.Context(), "acme", refreshes[i].Hash)
			if i == winner {
				must(t, ferr)
				must(t, rerr)
				continue
			}
			if firsts[i] != fams[winner].ID {
				t.Errorf("loser %d was told the first family is %q, want %q", i, firsts[i], fams[winner].ID)
			}
			wantErr(t, "GetFamily(loser)", ferr, derrors.NotFound, "")
			wantErr(t, "GetRefresh(loser)", rerr, derrors.NotFound, "")
		}
		got, err := f.db.GetCode(t.Context(), "acme", c.Hash)
		must(t, err)
		if got.FamilyID != fams[winner].ID || !got.UsedAt.Equal(now) {
			t.Fatalf("used code: %+v", got)
		}
		first, err := f.db.RedeemCode(t.Context(), "acme", c.Hash, now, nil, nil)
		if !errors.Is(err, grantpkg.ErrReused) || first != fams[winner].ID {
			t.Fatalf("replay: %q %v", first, err)
		}
		// Used up without a family (a refused exchange): a replay names none.
		spent := &grantpkg.Code{Hash: grantpkg.Hash(grantpkg.NewSecret()), ClientID: f.clientID, UserID: f.userID, CreatedAt: now, ExpiresAt: now.Add(time.Minute), AuthTime: now}
		must(t, f.db.CreateCode(t.Context(), "acme", spent, nil))
		_, err = f.db.RedeemCode(t.Context(), "acme", spent.Hash, now, nil, nil)
		must(t, err)
		if first, err := f.db.RedeemCode(t.Context(), "acme", spent.Hash, now, nil, nil); !errors.Is(err, grantpkg.ErrReused) || first != "" {
			t.Fatalf("replay of a code used without a family: %q %v", first, err)
		}
		expired := &grantpkg.Code{Hash: grantpkg.Hash(grantpkg.NewSecret()), ClientID: f.clientID, UserID: f.userID, CreatedAt: now, ExpiresAt: now.Add(-time.Second), AuthTime: now}
		must(t, f.db.CreateCode(t.Context(), "acme", expired, nil))
		_, err = f.db.RedeemCode(t.Context(), "acme", expired.Hash, now, nil, nil)
		wantErr(t, "RedeemCode(expired)", err, derrors.NotFound, "")
		mkTenant(t, f.db, "other")
		_, err = f.db.RedeemCode(t.Context(), "other", c.Hash, now, nil, nil)
		wantErr(t, "RedeemCode(other tenant)", err, derrors.NotFound, "")
		_, err = f.db.GetCode(t.Context(), "other", c.Hash)
		wantErr(t, "GetCode(other tenant)", err, derrors.NotFound, "")
	})

	t.Run("A code stored with its family R-OID-2 R-OID-10", func(t *testing.T) {
		f := setup(t)
		fam := &grantpkg.Family{ID: grantpkg.NewOrderedID(), ClientID: f.clientID, UserID: f.userID, SID: "sid", Scope: []string{"openid", "offline_access"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		code := func() *grantpkg.Code {
			c := &grantpkg.Code{Hash: grantpkg.Hash(grantpkg.NewOrderedSecret()), ClientID: f.clientID, UserID: f.userID, SID: "sid", RedirectURI: "https://portal.example.com/cb",
				Scope: fam.Scope, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute), FamilyID: fam.ID}
			return c
		}
		c := code()
		must(t, f.db.CreateCode(t.Context(), "acme", c, fam))
		got, err := f.db.GetCode(t.Context(), "acme", c.Hash)
		must(t, err)
		if got.FamilyID != fam.ID || got.Revoked {
			t.Fatalf("code with its family: %+v", got)
		}
		gotFam, err := f.db.GetFamily(t.Context(), "acme", fam.ID)
		must(t, err)
		diff(t, "family stored with the code", fam, gotFam)
		// The exchange stores only the refresh token: the family, made with
		// the code to outlive it, is left alone.
		r := &grantpkg.Refresh{Hash: grantpkg.Hash(grantpkg.NewOrderedSecret()), FamilyID: fam.ID, CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute)}
		first, err := f.db.RedeemCode(t.Context(), "acme", c.Hash, now, nil, r)
		if err != nil || first != "" {
			t.Fatalf("redeem: %q %v", first, err)
		}
		_, err = f.db.GetRefresh(t.Context(), "acme", r.Hash)
		must(t, err)
		gotFam, err = f.db.GetFamily(t.Context(), "acme", fam.ID)
		must(t, err)
		diff(t, "family after the exchange", fam, gotFam)
		if first, err := f.db.RedeemCode(t.Context(), "acme", c.Hash, now, nil, nil); !errors.Is(err, grantpkg.ErrReused) || first != fam.ID {
			t.Fatalf("replay: %q %v", first, err)
		}
		// Revoking the family (a logout) before the exchange revokes the code.
		c2 := code()
		must(t, f.db.CreateCode(t.Context(), "acme", c2, nil))
		must(t, f.db.RevokeFamily(t.Context(), "acme", fam.ID, now))
		got, err = f.db.GetCode(t.Context(), "acme", c2.Hash)
		must(t, err)
		if !got.Revoked {
			t.Fatalf("the code of a revoked family is not revoked: %+v", got)
		}
		// A code of a family that is gone counts as revoked too.
		c3 := code()
		c3.FamilyID = "gone"
		must(t, f.db.CreateCode(t.Context(), "acme", c3, nil))
		if got, err := f.db.GetCode(t.Context(), "acme", c3.Hash); err != nil || !got.Revoked {
			t.Fatalf("the code of a missing family: %+v %v", got, err)
		}
	})

	t.Run("Refresh rotation R-OID-3", func(t *testing.T) {
		f := setup(t)
		fam := &grantpkg.Family{ID: grantpkg.NewID(), ClientID: f.clientID, UserID: f.userID, SID: "sid", Scope: []string{"openid", "offline_access"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		r1 := &grantpkg.Refresh{Hash: grantpkg.Hash(grantpkg.NewSecret()), FamilyID: fam.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		must(t, f.db.CreateFamily(t.Context(), "acme", fam, r1))
		gotFam, err := f.db.GetFamily(t.Context(), "acme", fam.ID)
		must(t, err)
		diff(t, "family", fam, gotFam)
		gotR, gotRF, err := f.db.GetRefreshFamily(t.Context(), "acme", r1.Hash)
		must(t, err)
		diff(t, "refresh token (with its family)", r1, gotR)
		diff(t, "family (with its refresh token)", fam, gotRF)
		_, _, err = f.db.GetRefreshFamily(t.Context(), "other", r1.Hash)
		wantErr(t, "GetRefreshFamily(other tenant)", err, derrors.NotFound, "")
		r2 := &grantpkg.Refresh{Hash: grantpkg.Hash(grantpkg.NewSecret()), FamilyID: fam.ID, CreatedAt: now, ExpiresAt: now.Add(2 * time.Hour)}
		_, err = f.db.RotateRefresh(t.Context(), "acme", r1.Hash, now, "sealed-answer", r2)
		must(t, err)
		old, err := f.db.GetRefresh(t.Context(), "acme", r1.Hash)
		must(t, err)
		if old.Hash != r1.Hash || !old.RotatedAt.Equal(now) || old.NextSealed != "sealed-answer" {
			t.Fatalf("rotated: %+v", old)
		}
		// A second rotation of the same token: ErrReused with the stored answer.
		again, err := f.db.RotateRefresh(t.Context(), "acme", r1.Hash, now, "other", &grantpkg.Refresh{Hash: grantpkg.Hash(grantpkg.NewSecret()), FamilyID: fam.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
		if !errors.Is(err, grantpkg.ErrReused) || again.NextSealed != "sealed-answer" {
			t.Fatalf("second rotation: %+v %v", again, err)
		}
		got2, err := f.db.GetRefresh(t.Context(), "acme", r2.Hash)
		must(t, err)
		if !got2.RotatedAt.IsZero() || got2.FamilyID != fam.ID {
			t.Fatalf("new token: %+v", got2)
		}
		gotFam, err = f.db.GetFamily(t.Context(), "acme", fam.ID)
		must(t, err)
		// Past the newest token's expiry, by half its lifetime: the next
		// rotations within that half leave the family's row alone.
		if want := r2.ExpiresAt.Add(time.Hour); !gotFam.ExpiresAt.Equal(want) {
			t.Errorf("family expiry %v, want %v (the newest token's + half its lifetime)", gotFam.ExpiresAt, want)
		}
		r3 := &grantpkg.Refresh{Hash: grantpkg.Hash(grantpkg.NewOrderedSecret()), FamilyID: fam.ID, CreatedAt: now.Add(30 * time.Minute), ExpiresAt: now.Add(150 * time.Minute)}
		_, err = f.db.RotateRefresh(t.Context(), "acme", r2.Hash, now.Add(30*time.Minute), "sealed", r3)
		must(t, err)
		if again, _ := f.db.GetFamily(t.Context(), "acme", fam.ID); !again.ExpiresAt.Equal(gotFam.ExpiresAt) {
			t.Errorf("family expiry moved to %v although the newest token expires before %v", again.ExpiresAt, gotFam.ExpiresAt)
		}
		must(t, f.db.RevokeFamily(t.Context(), "acme", fam.ID, now))
		gotFam, err = f.db.GetFamily(t.Context(), "acme", fam.ID)
		must(t, err)
		if !gotFam.Revoked() {
			t.Fatal("family not revoked")
		}
		mkTenant(t, f.db, "other")
		_, err = f.db.GetRefresh(t.Context(), "other", r2.Hash)
		wantErr(t, "GetRefresh(other tenant)", err, derrors.NotFound, "")
	})

	t.Run("Consents", func(t *testing.T) {
		f := setup(t)
		_, err := f.db.GetConsent(t.Context(), "acme", f.userID, f.clientID)
		wantErr(t, "GetConsent(none)", err, derrors.NotFound, "")
		c := &grantpkg.Consent{UserID: f.userID, ClientID: f.clientID, SID: "sid-1", Scope: []string{"openid"}, CreatedAt: now}
		must(t, f.db.SaveConsent(t.Context(), "acme", c))
		c.Scope, c.SID = []string{"openid", "email"}, "sid-2"
		must(t, f.db.SaveConsent(t.Context(), "acme", c))
		got, err := f.db.GetConsent(t.Context(), "acme", f.userID, f.clientID)
		must(t, err)
		diff(t, "consent", c, got)
	})

	t.Run("Consents are listed and revoked with their grants R-OID-9", func(t *testing.T) {
		f := setup(t)
		ctx := t.Context()
		other, _ := mkApp(t, f.db, "acme", "billing")
		bob := mkUser(t, f.db, "acme", "bob")
		list, err := f.db.ListConsents(ctx, "acme", f.userID)
		must(t, err)
		diff(t, "consents of a user who gave none", []*grantpkg.Consent{}, list)

		mine := &grantpkg.Consent{UserID: f.userID, ClientID: f.clientID, SID: "sid", Scope: []string{"openid", "profile"}, CreatedAt: now}
		billing := &grantpkg.Consent{UserID: f.userID, ClientID: other.ClientID, Scope: []string{"openid"}, CreatedAt: now.Add(time.Second)}
		bobs := &grantpkg.Consent{UserID: bob.ID, ClientID: f.clientID, Scope: []string{"openid"}, CreatedAt: now}
		for _, c := range []*grantpkg.Consent{mine, billing, bobs} {
			must(t, f.db.SaveConsent(ctx, "acme", c))
		}
		want := []*grantpkg.Consent{mine, billing}
		if billing.ClientID < mine.ClientID {
			want = []*grantpkg.Consent{billing, mine}
		}
		list, err = f.db.ListConsents(ctx, "acme", f.userID)
		must(t, err)
		diff(t, "alice's consents, by client ID", want, list)
		mkTenant(t, f.db, "other")
		list, err = f.db.ListConsents(ctx, "other", f.userID)
		must(t, err)
		diff(t, "alice's consents seen from another tenant", []*grantpkg.Consent{}, list)

		// Alice's two grants to the app (one refreshed, one a code not yet
		// exchanged), her grant to billing, Bob's grant to the app.
		family := func(userID, clientID string) *grantpkg.Family {
			return &grantpkg.Family{ID: grantpkg.NewID(), ClientID: clientID, UserID: userID, SID: "sid", Scope: []string{"openid"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		}
		refreshed := family(f.userID, f.clientID)
		rt := &grantpkg.Refresh{Hash: grantpkg.Hash(grantpkg.NewOrderedSecret()), FamilyID: refreshed.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		must(t, f.db.CreateFamily(ctx, "acme", refreshed, rt))
		pending := family(f.userID, f.clientID)
		code := &grantpkg.Code{Hash: grantpkg.Hash(grantpkg.NewOrderedSecret()), ClientID: f.clientID, UserID: f.userID, SID: "sid", RedirectURI: "https://portal.example.com/cb",
			Scope: []string{"openid"}, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute), FamilyID: pending.ID}
		must(t, f.db.CreateCode(ctx, "acme", code, pending))
		otherApp, otherUser := family(f.userID, other.ClientID), family(bob.ID, f.clientID)
		must(t, f.db.CreateFamily(ctx, "acme", otherApp, nil))
		must(t, f.db.CreateFamily(ctx, "acme", otherUser, nil))

		_, err = f.db.RevokeConsent(ctx, "other", f.userID, f.clientID, now)
		wantErr(t, "RevokeConsent(other tenant)", err, derrors.NotFound, "")
		n, err := f.db.RevokeConsent(ctx, "acme", f.userID, f.clientID, now.Add(time.Minute))
		must(t, err)
		if n != 2 {
			t.Errorf("RevokeConsent revoked %d families, want alice's 2 grants to the app", n)
		}
		_, err = f.db.GetConsent(ctx, "acme", f.userID, f.clientID)
		wantErr(t, "GetConsent(revoked)", err, derrors.NotFound, "")
		_, gotFam, err := f.db.GetRefreshFamily(ctx, "acme", rt.Hash)
		must(t, err)
		if !gotFam.RevokedAt.Equal(now.Add(time.Minute)) {
			t.Errorf("refresh token's family revoked at %v, want %v", gotFam.RevokedAt, now.Add(time.Minute))
		}
		if got, err := f.db.GetCode(ctx, "acme", code.Hash); err != nil || !got.Revoked {
			t.Errorf("the code not yet exchanged: %+v, %v; want it revoked", got, err)
		}
		for name, fam := range map[string]*grantpkg.Family{"alice's grant to billing": otherApp, "bob's grant to the app": otherUser} {
			got, err := f.db.GetFamily(ctx, "acme", fam.ID)
			must(t, err)
			if got.Revoked() {
				t.Errorf("%s was revoked with alice's consent to the app", name)
			}
		}
		list, err = f.db.ListConsents(ctx, "acme", f.userID)
		must(t, err)
		diff(t, "alice's consents after the revocation", []*grantpkg.Consent{billing}, list)
		if _, err := f.db.GetConsent(ctx, "acme", bob.ID, f.clientID); err != nil {
			t.Errorf("bob's consent: %v, want it kept", err)
		}
		_, err = f.db.RevokeConsent(ctx, "acme", f.userID, f.clientID, now)
		wantErr(t, "RevokeConsent(again)", err, derrors.NotFound, "")
	})

	t.Run("Deleting an app or user removes its grants R-APP-11", func(t *testing.T) {
		f := setup(t)
		fam := &grantpkg.Family{ID: grantpkg.NewID(), ClientID: f.clientID, UserID: f.userID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		r := &grantpkg.Refresh{Hash: grantpkg.Hash(grantpkg.NewSecret()), FamilyID: fam.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		must(t, f.db.CreateFamily(t.Context(), "acme", fam, r))
		c := &grantpkg.Code{Hash: grantpkg.Hash(grantpkg.NewSecret()), ClientID: f.clientID, UserID: f.userID, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		must(t, f.db.CreateCode(t.Context(), "acme", c, nil))
		must(t, f.db.DeleteApp(t.Context(), "acme", f.clientID))
		_, err := f.db.GetFamily(t.Context(), "acme", fam.ID)
		wantErr(t, "GetFamily(app deleted)", err, derrors.NotFound, "")
		_, err = f.db.GetRefresh(t.Context(), "acme", r.Hash)
		wantErr(t, "GetRefresh(app deleted)", err, derrors.NotFound, "")
		_, err = f.db.RedeemCode(t.Context(), "acme", c.Hash, now, nil, nil)
		wantErr(t, "RedeemCode(app deleted)", err, derrors.NotFound, "")
	})

	t.Run("Assertion jti replay R-OID-5", func(t *testing.T) {
		f := setup(t)
		must(t, f.db.UseJTI(t.Context(), "acme", f.clientID, "j1", now.Add(time.Minute)))
		wantErr(t, "UseJTI(replay)", f.db.UseJTI(t.Context(), "acme", f.clientID, "j1", now.Add(time.Minute)), derrors.Conflict, "jti")
		must(t, f.db.UseJTI(t.Context(), "acme", "another-client", "j1", now.Add(time.Minute)))
		mkTenant(t, f.db, "other")
		must(t, f.db.UseJTI(t.Context(), "other", f.clientID, "j1", now.Add(time.Minute)))
	})

	t.Run("Revoked access tokens R-OID-1", func(t *testing.T) {
		f := setup(t)
		mkTenant(t, f.db, "other")
		must(t, f.db.RevokeToken(t.Context(), "acme", "j1", now.Add(time.Hour), now))
		// A second revocation keeps the first record.
		must(t, f.db.RevokeToken(t.Context(), "acme", "j1", now.Add(2*time.Hour), now.Add(time.Minute)))
		must(t, f.db.RevokeToken(t.Context(), "other", "j1", now.Add(time.Hour), now.Add(time.Second)))
		must(t, f.db.RevokeToken(t.Context(), "acme", "expired", now.Add(-time.Second), now))
		got, err := f.db.RevokedTokens(t.Context(), time.Time{}, now)
		must(t, err)
		slices.SortFunc(got, func(a, b grantpkg.RevokedToken) int { return strings.Compare(a.TenantID, b.TenantID) })
		diff(t, "every unexpired revocation", []grantpkg.RevokedToken{
			{TenantID: "acme", JTI: "j1", ExpiresAt: now.Add(time.Hour), RevokedAt: now},
			{TenantID: "other", JTI: "j1", ExpiresAt: now.Add(time.Hour), RevokedAt: now.Add(time.Second)},
		}, got)
		got, err = f.db.RevokedTokens(t.Context(), now.Add(time.Second), now)
		must(t, err)
		if len(got) != 1 || got[0].TenantID != "other" {
			t.Fatalf("revocations since a time: %+v", got)
		}
		if _, err := f.db.DeleteExpired(t.Context(), now.Add(2*time.Hour), 1000); err != nil {
			t.Fatal(err)
		}
		got, err = f.db.RevokedTokens(t.Context(), time.Time{}, time.Time{})
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("the janitor left expired revocations: %+v", got)
		}
	})

	t.Run("Janitor: the family of a code that expired unused goes with it", func(t *testing.T) {
		f := setup(t)
		mk := func(expires time.Time) (*grantpkg.Code, *grantpkg.Family) {
			fam := &grantpkg.Family{ID: grantpkg.NewOrderedID(), ClientID: f.clientID, UserID: f.userID, SID: "sid", AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
			c := &grantpkg.Code{Hash: grantpkg.Hash(grantpkg.NewOrderedSecret()), ClientID: f.clientID, UserID: f.userID, SID: "sid", AuthTime: now, CreatedAt: now, ExpiresAt: expires, FamilyID: fam.ID}
			must(t, f.db.CreateCode(t.Context(), "acme", c, fam))
			return c, fam
		}
		_, abandoned := mk(now.Add(-time.Second))
		used, usedFam := mk(now.Add(time.Minute))
		_, pending := mk(now.Add(time.Minute))
		_, err := f.db.RedeemCode(t.Context(), "acme", used.Hash, now, nil, nil)
		must(t, err)
		// An hour later: the used code and the pending one have expired too;
		// only the unused ones take their family along.
		n, err := f.db.DeleteExpired(t.Context(), now.Add(time.Hour), 100)
		must(t, err)
		if n != 5 { // 2 families, 3 codes
			t.Fatalf("deleted %d rows, want 5", n)
		}
		for _, gone := range []*grantpkg.Family{abandoned, pending} {
			if _, err := f.db.GetFamily(t.Context(), "acme", gone.ID); !derrors.Is(err, derrors.NotFound) {
				t.Fatalf("the family of a code that expired unused: %v", err)
			}
		}
		_, err = f.db.GetFamily(t.Context(), "acme", usedFam.ID)
		must(t, err)
	})

	t.Run("Janitor keeps tables bounded", func(t *testing.T) {
		f := setup(t)
		var live []*grantpkg.Refresh
		for i := 0; i < 30; i++ {
			exp := now.Add(-time.Minute)
			if i%3 == 0 {
				exp = now.Add(time.Hour)
			}
			fam := &grantpkg.Family{ID: grantpkg.NewID(), ClientID: f.clientID, UserID: f.userID, AuthTime: now, CreatedAt: now, ExpiresAt: exp}
			r := &grantpkg.Refresh{Hash: grantpkg.Hash(grantpkg.NewSecret()), FamilyID: fam.ID, CreatedAt: now, ExpiresAt: exp}
			must(t, f.db.CreateFamily(t.Context(), "acme", fam, r))
			if i%3 == 0 {
				live = append(live, r)
			}
			must(t, f.db.CreateCode(t.Context(), "acme", &grantpkg.Code{Hash: grantpkg.Hash(grantpkg.NewSecret()), ClientID: f.clientID, UserID: f.userID, AuthTime: now, CreatedAt: now, ExpiresAt: exp}, nil))
			must(t, f.db.CreateSession(t.Context(), "acme", &grantpkg.Session{Hash: grantpkg.Hash(grantpkg.NewSecret()), SID: grantpkg.NewID(), UserID: f.userID, AuthTime: now, CreatedAt: now, ExpiresAt: exp}))
			must(t, f.db.CreateRequest(t.Context(), "acme", &grantpkg.Request{ID: grantpkg.NewID(), ClientID: f.clientID, MaxAge: -1, CreatedAt: now, ExpiresAt: exp}))
		}
		// 20 expired rows in each of 5 tables; a limit of 7 per table per sweep.
		var total int64
		for sweep := 0; sweep < 5; sweep++ {
			n, err := f.db.DeleteExpired(t.Context(), now, 7)
			must(t, err)
			total += n
		}
		// 100 rows, less the refresh tokens that went with their family
		// (a cascade, not counted) before their own sweep reached them.
		if total < 80 || total > 100 {
			t.Fatalf("deleted %d rows, want 80 to 100 (20 expired in each of 5 tables)", total)
		}
		if n, err := f.db.DeleteExpired(t.Context(), now, 7); err != nil || n != 0 {
			t.Fatalf("after the sweeps: %d %v", n, err)
		}
		for _, r := range live {
			if _, err := f.db.GetRefresh(t.Context(), "acme", r.Hash); err != nil {
				t.Fatalf("a live refresh token was swept: %v", err)
			}
			if _, err := f.db.GetFamily(t.Context(), "acme", r.FamilyID); err != nil {
				t.Fatalf("a live family was swept: %v", err)
			}
		}
	})
}

// RunGrantsRaw checks what the janitor leaves in the tables (issue 3 item 7).
func RunGrantsRaw(t *testing.T, open func(t *testing.T) (*store.DB, Raw)) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	t.Run("Janitor under constant traffic: row counts stop growing", func(t *testing.T) {
		db, raw := open(t)
		mkTenant(t, db, "acme")
		a, _ := mkApp(t, db, "acme", "portal")
		u := mkUser(t, db, "acme", "alice")
		f := struct {
			db               *store.DB
			clientID, userID string
		}{db, a.ClientID, u.ID}
		count := func() int {
			total := 0
			for _, q := range []string{"auth_codes", "auth_requests", "sessions", "token_families", "refresh_tokens", "assertion_jtis", "revoked_tokens"} {
				var n int
				must(t, raw.DB.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+q).Scan(&n))
				total += n
			}
			return total
		}
		var counts []int
		for minute := 0; minute < 40; minute++ {
			at := now.Add(time.Duration(minute) * time.Minute)
			for i := 0; i < 10; i++ {
				must(t, f.db.CreateCode(t.Context(), "acme", &grantpkg.Code{Hash: grantpkg.Hash(grantpkg.NewSecret()), ClientID: f.clientID, UserID: f.userID, AuthTime: at, CreatedAt: at, ExpiresAt: at.Add(time.Minute)}, nil))
				must(t, f.db.CreateRequest(t.Context(), "acme", &grantpkg.Request{ID: grantpkg.NewID(), ClientID: f.clientID, MaxAge: -1, CreatedAt: at, ExpiresAt: at.Add(3 * time.Minute)}))
				must(t, f.db.UseJTI(t.Context(), "acme", f.clientID, grantpkg.NewID(), at.Add(2*time.Minute)))
				must(t, f.db.RevokeToken(t.Context(), "acme", grantpkg.NewID(), at.Add(2*time.Minute), at))
			}
			for i := 0; i < 3; i++ {
				must(t, f.db.CreateSession(t.Context(), "acme", &grantpkg.Session{Hash: grantpkg.Hash(grantpkg.NewSecret()), SID: grantpkg.NewID(), UserID: f.userID, AuthTime: at, CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}))
				fam := &grantpkg.Family{ID: grantpkg.NewID(), ClientID: f.clientID, UserID: f.userID, AuthTime: at, CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
				must(t, f.db.CreateFamily(t.Context(), "acme", fam, &grantpkg.Refresh{Hash: grantpkg.Hash(grantpkg.NewSecret()), FamilyID: fam.ID, CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}))
			}
			if _, err := f.db.DeleteExpired(t.Context(), at, 1000); err != nil {
				t.Fatal(err)
			}
			counts = append(counts, count())
		}
		// Inserted per minute: 10 codes, requests, jtis and revoked
		// tokens, 3 sessions, families and refresh tokens = 49 rows; each
		// lives at most 10 minutes, so from minute 10 on the count is flat.
		for m := 11; m < len(counts); m++ {
			if counts[m] != counts[10] {
				t.Fatalf("row count still changing at minute %d: %v", m, counts)
			}
		}
		if counts[39] >= 39*40/2 {
			t.Fatalf("rows %d: the janitor deleted too little", counts[39])
		}
	})
}
