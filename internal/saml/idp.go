package saml

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/grant"
	"github.com/gatehouse-id/gatehouse/internal/keys"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// Paths under a tenant's issuer.
const (
	PathMetadata = "/saml/metadata"
	PathSSO      = "/saml/sso"
	PathSLO      = "/saml/slo"
	PathIdPInit  = "/saml/idp-init"
	// PathCertificate is the active SAML signing certificate in PEM.
	PathCertificate = "/saml/certificate.pem"
	pathResume      = "/saml/resume"
)

// Apps finds the app of a message.
type Apps interface {
	// AppByEntityID loads the tenant's app of the protocol with that SP
	// entity ID (SAML) or realm (WS-Federation); NotFound when none.
	AppByEntityID(ctx context.Context, tenantID string, protocol app.Protocol, id string) (*app.App, error)
	GetApp(ctx context.Context, tenantID, clientID string) (*app.App, error)
}

// Sessions is the login package's SSO session and message page.
type Sessions interface {
	Session(r *http.Request, tenantID string) (*grant.Session, *user.User, error)
	Message(w http.ResponseWriter, r *http.Request, tenantID string, status int, heading, text string)
	// EndSession ends the browser's session and expires its cookie.
	EndSession(w http.ResponseWriter, r *http.Request, tenantID string) (*grant.Session, error)
}

// Users gives a user's roles and permissions for an app (R-ROL-1).
type Users interface {
	Access(ctx context.Context, tenantID, userID, clientID string) (roles, permissions []string, err error)
}

// Grants keeps parked requests and the request IDs already answered.
type Grants interface {
	CreateRequest(ctx context.Context, tenantID string, r *grant.Request) error
	GetRequest(ctx context.Context, tenantID, id string) (*grant.Request, error)
	DeleteRequest(ctx context.Context, tenantID, id string) error
	// UseJTI records an ID for a key until expires; a second use is a
	// derrors Conflict.
	UseJTI(ctx context.Context, tenantID, key, id string, expires time.Time) error
	// The SAML apps of each SSO session, for single logout.
	AddParticipant(ctx context.Context, tenantID string, p *grant.Participant) error
	Participants(ctx context.Context, tenantID, sid string) ([]grant.Participant, error)
	DeleteParticipants(ctx context.Context, tenantID, sid string) error
	EndSessionBySID(ctx context.Context, tenantID, sid string) (*grant.Session, error)
}

// Keys gives a tenant's key set with its SAML signer (keys.Manager).
type Keys interface {
	SAML(ctx context.Context, tenantID string) (*keys.Set, error)
}

// Defaults of the IdP's time windows.
const (
	DefaultRequestLifetime   = 10 * time.Minute
	DefaultAssertionLifetime = 5 * time.Minute
	// clockSkew is how far an SP's clock may be ahead of ours (a request
	// issued "in the future") and how far back NotBefore goes.
	clockSkew = time.Minute
	// maxRequestAge is how old an AuthnRequest may be when it arrives.
	maxRequestAge = 5 * time.Minute
)

// IdP serves every tenant's SAML endpoints. Set the fields, then call
// Register; do not copy an IdP.
type IdP struct {
	// PublicURL is the server's public URL, without a trailing slash.
	PublicURL string
	Apps      Apps
	Sessions  Sessions
	Users     Users
	Grants    Grants
	Keys      Keys
	Now       func() time.Time
	Log       *slog.Logger
	// RequestLifetime is how long a request waits for the user to sign
	// in; 0: DefaultRequestLifetime.
	RequestLifetime time.Duration
	// AssertionLifetime is the window between an assertion's NotBefore
	// and NotOnOrAfter (R-SML-3: a few minutes); 0: DefaultAssertionLifetime.
	AssertionLifetime time.Duration
	// OnLogout is called when a single logout ended a session: the OIDC
	// provider revokes its grants and sends back-channel logouts.
	OnLogout func(ctx context.Context, tenantID string, s *grant.Session)

	metadata sync.Map // tenant -> *cachedMetadata
}

// Issuer returns a tenant's issuer, the IdP entity ID.
func (p *IdP) Issuer(tenantID string) string { return p.PublicURL + "/t/" + tenantID }

// Register adds the SAML endpoints to mux.
func (p *IdP) Register(mux *http.ServeMux) {
	const t = "/t/{tenant}"
	mux.HandleFunc("GET "+t+PathMetadata, p.serveMetadata)
	mux.HandleFunc("GET "+t+PathCertificate, p.serveCertificate)
	mux.HandleFunc("GET "+t+PathSSO, p.sso)
	mux.HandleFunc("POST "+t+PathSSO, p.sso)
	mux.HandleFunc("GET "+t+pathResume, p.resume)
	mux.HandleFunc("GET "+t+PathIdPInit, p.idpInit)
	mux.HandleFunc("GET "+t+PathSLO, p.slo)
	mux.HandleFunc("POST "+t+PathSLO, p.slo)
	mux.HandleFunc("GET "+t+PathWSFed, p.wsfed)
	mux.HandleFunc("GET "+t+PathWSFedMetadata, p.serveWSFedMetadata)
	mux.HandleFunc("GET "+t+pathWSFedResume, p.resumeWSFed)
}

func (p *IdP) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

func (p *IdP) log() *slog.Logger {
	if p.Log == nil {
		return slog.Default()
	}
	return p.Log
}

func (p *IdP) requestLifetime() time.Duration {
	if p.RequestLifetime <= 0 {
		return DefaultRequestLifetime
	}
	return p.RequestLifetime
}

func (p *IdP) assertionLifetime() time.Duration {
	if p.AssertionLifetime <= 0 {
		return DefaultAssertionLifetime
	}
	return p.AssertionLifetime
}

// tenantOf returns the tenant in the path and its key set with a SAML
// signer; it writes the error page and returns ok=false when there is none.
func (p *IdP) tenantOf(w http.ResponseWriter, r *http.Request) (string, *keys.Set, bool) {
	tid := r.PathValue("tenant")
	if tenant.ValidateName(tid) != nil {
		http.NotFound(w, r)
		return "", nil, false
	}
	ks, err := p.Keys.SAML(r.Context(), tid)
	if err != nil {
		if derrors.Is(err, derrors.NotFound) {
			http.NotFound(w, r)
		} else {
			p.serverError(w, r, tid, err)
		}
		return "", nil, false
	}
	return tid, ks, true
}

// refuse shows the error page for a message that cannot be answered to the
// SP: nothing is issued, nothing changes.
func (p *IdP) refuse(w http.ResponseWriter, r *http.Request, tid string, status int, detail string) {
	p.log().InfoContext(r.Context(), "saml request refused", "tenant", tid, "reason", detail)
	p.Sessions.Message(w, r, tid, status, "The sign-in request cannot be accepted", detail)
}

// fail answers a handler's error: the sender's (*errBad) with the 400 page
// that says why, any other with the 500 page.
func (p *IdP) fail(w http.ResponseWriter, r *http.Request, tid string, err error) {
	var b *errBad
	if errors.As(err, &b) {
		p.refuse(w, r, tid, http.StatusBadRequest, b.msg)
		return
	}
	p.serverError(w, r, tid, err)
}

func (p *IdP) serverError(w http.ResponseWriter, r *http.Request, tid string, err error) {
	p.log().ErrorContext(r.Context(), "saml", "tenant", tid, "error", err)
	p.Sessions.Message(w, r, tid, http.StatusInternalServerError, "Something went wrong", "Try again in a moment.")
}

// spKey is the UseJTI key under which an SP's request IDs are kept: it
// cannot collide with a client ID, which has no colon.
func spKey(entityID string) string { return "saml:" + entityID }

// trimSpace trims XML white space (not every Unicode space) from s.
func trimSpace(s string) string { return strings.Trim(s, " \t\r\n") }
