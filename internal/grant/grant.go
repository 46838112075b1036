// Package grant holds what the OpenID Connect flows keep between requests
// (R-OID-2, R-OID-3, R-OID-10): pending authorization requests, single-use
// authorization codes, token families with rotating refresh tokens, SSO
// sessions and remembered consents. Every secret value (code, refresh token,
// session cookie) is stored only as its SHA-256 hash; rows expire and a
// janitor deletes them, so tables stay bounded under constant traffic.
package grant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"
)

// Request is a validated authorization request waiting for the user to log in
// or consent (OpenID Connect Core §3.1.2.1).
type Request struct {
	ID                  string   `json:"-"`
	ClientID            string   `json:"client_id"`
	RedirectURI         string   `json:"redirect_uri"`
	ResponseType        string   `json:"response_type"`
	ResponseMode        string   `json:"response_mode,omitempty"`
	Scope               []string `json:"scope"`
	State               string   `json:"state,omitempty"`
	Nonce               string   `json:"nonce,omitempty"`
	CodeChallenge       string   `json:"code_challenge,omitempty"`
	CodeChallengeMethod string   `json:"code_challenge_method,omitempty"`
	Prompt              []string `json:"prompt,omitempty"`
	MaxAge              int      `json:"max_age"` // seconds; -1: absent
	LoginHint           string   `json:"login_hint,omitempty"`
	// Protocol is the protocol that parked the request: "" for OpenID
	// Connect, ProtocolSAML or ProtocolWSFed. The login page resumes the
	// request at that protocol's endpoint. A SAML request keeps its ACS URL
	// in RedirectURI, its RelayState (wctx for WS-Federation) in State.
	Protocol string `json:"protocol,omitempty"`
	// SAMLRequestID is the ID of the AuthnRequest, the response's
	// InResponseTo; empty for IdP-initiated SSO and WS-Federation.
	SAMLRequestID string `json:"saml_request_id,omitempty"`
	// NameIDFormat is the NameID format the response uses.
	NameIDFormat string `json:"name_id_format,omitempty"`
	// Pending are the client IDs a single logout has still to tell, and
	// SID the session it ended.
	Pending   []string  `json:"pending,omitempty"`
	SID       string    `json:"sid,omitempty"`
	CreatedAt time.Time `json:"-"`
	ExpiresAt time.Time `json:"-"`
}

// Protocols of a parked Request other than OpenID Connect.
const (
	ProtocolSAML  = "saml"
	ProtocolWSFed = "wsfed"
)

// Session is a single sign-on session of one user in one tenant (R-OID-10).
// The browser holds a random secret; the store knows its hash.
type Session struct {
	Hash      string
	SID       string // public identifier: the sid claim, back-channel logout
	UserID    string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Participant is a SAML app an SSO session signed in to, with the NameID it
// was given: single logout tells each (SAML Profiles §4.4).
type Participant struct {
	SID          string
	ClientID     string
	NameID       string
	NameIDFormat string
	ExpiresAt    time.Time // the session's expiry
}

// Code is an authorization code: single use, short-lived (R-OID-2).
type Code struct {
	Hash          string
	ClientID      string
	UserID        string
	SID           string
	RedirectURI   string
	Scope         []string
	Nonce         string
	CodeChallenge string
	AuthTime      time.Time
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        time.Time
	// FamilyID is the token family (the grant) the code belongs to: made
	// with the code at the authorization endpoint, so that a logout before
	// the exchange revokes the code too, and the exchange writes only the
	// code and the refresh token. A second redemption revokes it (RFC 6749
	// §4.1.2).
	FamilyID string
	// Revoked tells that the family is revoked or gone (GetCode).
	Revoked bool
}

// Family is the set of tokens issued from one grant: refresh tokens rotate
// within it, and revoking it revokes all of them at once (R-OID-3).
type Family struct {
	ID        string
	ClientID  string
	UserID    string
	SID       string
	Scope     []string
	AuthTime  time.Time
	CreatedAt time.Time
	ExpiresAt time.Time
	RevokedAt time.Time
}

// Revoked reports whether the family was revoked.
func (f *Family) Revoked() bool { return !f.RevokedAt.IsZero() }

// Refresh is one refresh token of a family.
type Refresh struct {
	Hash      string
	FamilyID  string
	CreatedAt time.Time
	ExpiresAt time.Time
	// RotatedAt is when the token was exchanged; NextSealed then holds the
	// (sealed) answer given, so that a concurrent retry within the grace
	// window gets the same answer (R-OID-3).
	RotatedAt  time.Time
	NextSealed string
}

// Consent remembers the scopes a user granted a third-party app. SID is the
// SSO session it was given in: under a tenant's "session" consent policy it
// holds only there (R-OID-10).
type Consent struct {
	UserID    string
	ClientID  string
	SID       string
	Scope     []string
	CreatedAt time.Time
}

// RevokedToken is a revoked access token that no family stands for (client
// credentials, JWT bearer): its jti is refused until the token would have
// expired (RFC 7009, R-OID-1).
type RevokedToken struct {
	TenantID  string
	JTI       string
	ExpiresAt time.Time
	RevokedAt time.Time
}

// Store persists grants. Every method but RevokedTokens is scoped to one
// tenant.
type Store interface {
	CreateRequest(ctx context.Context, tenantID string, r *Request) error
	GetRequest(ctx context.Context, tenantID, id string) (*Request, error)
	DeleteRequest(ctx context.Context, tenantID, id string) error

	CreateSession(ctx context.Context, tenantID string, s *Session) error
	GetSession(ctx context.Context, tenantID, hash string) (*Session, error)
	DeleteSession(ctx context.Context, tenantID, hash string) error

	// CreateCode stores a code and, when f is not nil, the family it
	// belongs to (c.FamilyID = f.ID), in one transaction.
	CreateCode(ctx context.Context, tenantID string, c *Code, f *Family) error
	// GetCode loads a code, used, expired or not.
	GetCode(ctx context.Context, tenantID, hash string) (*Code, error)
	// RedeemCode marks an unused, unexpired code used and stores, in one
	// transaction, the family it creates when f is not nil (a code made
	// without one), and the refresh token r when not nil (a code's family is
	// made to outlive it; rotations extend it). A code already used is ErrReused,
	// returned with the code's family ("" if none); an expired or unknown
	// one is a derrors.NotFound.
	RedeemCode(ctx context.Context, tenantID, hash string, now time.Time, f *Family, r *Refresh) (firstFamily string, err error)

	// CreateFamily stores a family and, if r is not nil, its first refresh token.
	CreateFamily(ctx context.Context, tenantID string, f *Family, r *Refresh) error
	GetFamily(ctx context.Context, tenantID, id string) (*Family, error)
	RevokeFamily(ctx context.Context, tenantID, id string, at time.Time) error
	// SessionFamilies lists the unrevoked families made in an SSO session.
	SessionFamilies(ctx context.Context, tenantID, sid string) ([]*Family, error)
	GetRefresh(ctx context.Context, tenantID, hash string) (*Refresh, error)
	// GetRefreshFamily loads a refresh token with its family; a token
	// whose family is gone is a derrors.NotFound.
	GetRefreshFamily(ctx context.Context, tenantID, hash string) (*Refresh, *Family, error)
	// RotateRefresh marks old rotated at now with the sealed answer and stores
	// next, if old has not been rotated yet; otherwise it returns ErrReused and
	// the stored row (with its NextSealed).
	RotateRefresh(ctx context.Context, tenantID, oldHash string, now time.Time, nextSealed string, next *Refresh) (*Refresh, error)

	// UseJTI records a JWT assertion's jti until it expires; a second use
	// is a derrors.Conflict (R-OID-4, R-OID-5).
	UseJTI(ctx context.Context, tenantID, clientID, jti string, expires time.Time) error

	// RevokeToken records a revoked access token's jti until it expires; a
	// second revocation of the same jti changes nothing.
	RevokeToken(ctx context.Context, tenantID, jti string, expires, at time.Time) error
	// RevokedTokens lists the revoked tokens of every tenant recorded at or
	// after since that have not expired at now, for each replica's copy.
	RevokedTokens(ctx context.Context, since, now time.Time) ([]RevokedToken, error)

	// Opaque access tokens (R-OID-7): the hash of the token and the JSON
	// of the claims it stands for.
	SaveAccessToken(ctx context.Context, tenantID, hash, clientID string, claims []byte, expires time.Time) error
	GetAccessToken(ctx context.Context, tenantID, hash string) ([]byte, error)
	DeleteAccessToken(ctx context.Context, tenantID, hash string) error

	GetConsent(ctx context.Context, tenantID, userID, clientID string) (*Consent, error)
	SaveConsent(ctx context.Context, tenantID string, c *Consent) error
	// ListConsents lists a user's consents by client ID.
	ListConsents(ctx context.Context, tenantID, userID string) ([]*Consent, error)
	// RevokeConsent deletes a user's consent to an app and, in the same
	// transaction, revokes every unrevoked token family of that user and
	// app: the grants made under the consent, their refresh tokens and
	// access tokens, and codes not yet exchanged. It returns how many
	// families it revoked; no such consent is a derrors.NotFound.
	RevokeConsent(ctx context.Context, tenantID, userID, clientID string, at time.Time) (int64, error)

	// DeleteExpired removes requests, codes, sessions, families and refresh
	// tokens past their expiry (the janitor), at most limit rows per table.
	DeleteExpired(ctx context.Context, now time.Time, limit int) (int64, error)
}

// ErrReused is returned when a code or refresh token is used again.
var ErrReused = reusedError{}

type reusedError struct{}

func (reusedError) Error() string { return "grant: already used" }

// NewSecret returns a 256-bit random value, base64url-encoded: codes,
// refresh tokens, session cookies.
func NewSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NewID returns a 128-bit random identifier.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// orderedPrefix is the length of the time prefix of NewOrderedID and
// NewOrderedSecret: the milliseconds since the epoch in 12 hex digits.
const orderedPrefix = 12

// timePrefix writes the current milliseconds since the epoch in hex.
func timePrefix(dst []byte) {
	const digits = "0123456789abcdef"
	ms := uint64(time.Now().UnixMilli())
	for i := orderedPrefix - 1; i >= 0; i-- {
		dst[i] = digits[ms&0xf]
		ms >>= 4
	}
}

// NewOrderedID returns a 96-bit random identifier after a time prefix, so
// that identifiers sort in the order they were made. Rows keyed by them are
// appended to their indexes instead of landing on random pages, so a commit
// of many new rows writes a few pages instead of one per row and index. It
// tells when it was made, which the tokens that carry it say anyway.
func NewOrderedID() string {
	var b [orderedPrefix + 16]byte
	timePrefix(b[:])
	var r [12]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	base64.RawURLEncoding.Encode(b[orderedPrefix:], r[:])
	return string(b[:])
}

// NewOrderedSecret returns a 256-bit random secret after a time prefix and
// a dot: refresh tokens and codes. Hash keeps the prefix, so their stored
// rows, too, are appended in the order they were made.
func NewOrderedSecret() string {
	var b [orderedPrefix + 1 + 43]byte
	timePrefix(b[:])
	b[orderedPrefix] = '.'
	var r [32]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	base64.RawURLEncoding.Encode(b[orderedPrefix+1:], r[:])
	return string(b[:])
}

// ordered reports whether secret has NewOrderedSecret's time prefix.
func ordered(secret string) bool {
	if len(secret) <= orderedPrefix || secret[orderedPrefix] != '.' {
		return false
	}
	for i := range orderedPrefix {
		if c := secret[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Hash is how secrets are stored: hex SHA-256. The secrets are 256-bit
// random, so a fast hash is enough. The time prefix of a NewOrderedSecret
// is kept in front of the hash: it is no secret, and it keeps the stored
// keys in creation order.
func Hash(secret string) string {
	s := sha256.Sum256([]byte(secret))
	if !ordered(secret) {
		return hex.EncodeToString(s[:])
	}
	var b [orderedPrefix + 1 + 2*sha256.Size]byte
	copy(b[:], secret[:orderedPrefix+1])
	hex.Encode(b[orderedPrefix+1:], s[:])
	return string(b[:])
}
