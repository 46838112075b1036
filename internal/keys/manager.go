package keys

import (
	"context"
	"crypto"
	"crypto/rsa"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
)

// Token types for the JWS "typ" header.
const (
	TypAccessToken = "at+jwt" // RFC 9068 §2.1
	TypJWT         = "JWT"
	TypLogout      = "logout+jwt" // OpenID Connect Back-Channel Logout 1.0 §2.4
)

// Set is a tenant's loaded key set: the active signer and the JWKS document.
type Set struct {
	Version int64
	// Keys are the published token keys; SAMLKeys the published keys that
	// sign SAML (the token keys themselves when they are RSA), active first.
	Keys     []*Key
	SAMLKeys []*Key
	JWKS     []byte
	active   *Key
	saml     *rsa.PrivateKey           // the active SAML key's private key; nil: no SAML line yet
	signers  map[string]*compactSigner // by typ
	public   map[string]publicKey      // by kid
	// validUntil is when a retired key leaves the JWKS, forcing a re-render.
	validUntil time.Time
}

// Active returns the key that signs.
func (s *Set) Active() *Key { return s.active }

// SAMLSigner returns the active SAML key and its private key; ok is false
// while the tenant has no RSA key for SAML (Manager.SAML makes one).
func (s *Set) SAMLSigner() (k *Key, priv *rsa.PrivateKey, ok bool) {
	if s.saml == nil {
		return nil, nil, false
	}
	return s.SAMLKeys[0], s.saml, true
}

// Sign signs payload as a compact JWS with the active key and typ header.
func (s *Set) Sign(typ string, payload []byte) (string, error) {
	sg, ok := s.signers[typ]
	if !ok {
		return "", fmt.Errorf("keys: no signer for typ %q", typ)
	}
	return sg.sign(payload)
}

// Verify checks a compact JWS of the given typ (TypAccessToken, TypJWT,
// …) signed by one of the set's published keys and returns its payload. The
// typ keeps one kind of token from passing for another (RFC 8725 §3.11,
// RFC 9068 §4): an ID token is no access token.
func (s *Set) Verify(token, typ string) ([]byte, error) {
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errBadSignature
	}
	h := jws.Signatures[0].Header
	if !typIs(h.ExtraHeaders[jose.HeaderType], typ) {
		return nil, errBadSignature
	}
	pub, ok := s.public[h.KeyID]
	if !ok || pub.alg != h.Algorithm {
		return nil, errBadSignature
	}
	payload, err := jws.Verify(pub.key)
	if err != nil {
		return nil, errBadSignature
	}
	return payload, nil
}

var errBadSignature = derrors.Unauthenticatedf("token signature is not valid")

// typIs compares a typ header with want, case-insensitively and with or
// without the "application/" prefix (RFC 7515 §4.1.9).
func typIs(got any, want string) bool {
	s, ok := got.(string)
	if !ok {
		return false
	}
	if len(s) > len("application/") && strings.EqualFold(s[:len("application/")], "application/") {
		s = s[len("application/"):]
	}
	return strings.EqualFold(s, want)
}

type publicKey struct {
	key crypto.PublicKey
	alg string
}

type entry struct {
	mu      sync.Mutex
	set     atomic.Pointer[Set]
	checked atomic.Int64 // unix nanos of the last version check
}

// Manager loads, caches and rotates key sets.
type Manager struct {
	Store Store
	Now   func() time.Time
	// RefreshInterval is how often a cached set is checked against the
	// store's version (other replicas' rotations show within it).
	RefreshInterval time.Duration
	// RetireAfter is how long a rotated-out key stays published: the longest
	// token lifetime plus clock skew (R-KEY-2).
	RetireAfter time.Duration

	cache sync.Map // tenant -> *entry
}

// Get returns the tenant's key set, from cache when it is fresh.
func (m *Manager) Get(ctx context.Context, tenantID string) (*Set, error) {
	v, _ := m.cache.Load(tenantID)
	e, _ := v.(*entry)
	now := m.Now()
	if e != nil {
		if s := e.set.Load(); s != nil && now.UnixNano()-e.checked.Load() < int64(m.RefreshInterval) && now.Before(s.validUntil) {
			return s, nil
		}
	} else {
		v, _ = m.cache.LoadOrStore(tenantID, &entry{})
		e = v.(*entry)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// Another goroutine may have refreshed while we waited.
	if s := e.set.Load(); s != nil && now.UnixNano()-e.checked.Load() < int64(m.RefreshInterval) && now.Before(s.validUntil) {
		return s, nil
	}
	if s := e.set.Load(); s != nil && now.Before(s.validUntil) {
		ver, err := m.Store.KeysVersion(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		if ver == s.Version {
			e.checked.Store(now.UnixNano())
			return s, nil
		}
	}
	s, err := m.load(ctx, tenantID, now)
	if err != nil {
		return nil, err
	}
	e.set.Store(s)
	e.checked.Store(now.UnixNano())
	return s, nil
}

// Forget drops a tenant's cached set (after the tenant is deleted).
func (m *Manager) Forget(tenantID string) { m.cache.Delete(tenantID) }

func (m *Manager) load(ctx context.Context, tenantID string, now time.Time) (*Set, error) {
	ks, ver, err := m.Store.ListKeys(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	s := &Set{Version: ver, validUntil: now.Add(100 * 365 * 24 * time.Hour), signers: map[string]*compactSigner{}, public: map[string]publicKey{}}
	var samlLine []*Key
	for _, k := range ks {
		if !k.Published(now) {
			continue
		}
		if k.State == StateRetired && k.RetireAt.Before(s.validUntil) {
			s.validUntil = k.RetireAt
		}
		if k.Use == UseSAML {
			samlLine = append(samlLine, k)
			continue
		}
		s.Keys = append(s.Keys, k)
		sg, err := k.Signer()
		if err != nil {
			return nil, err
		}
		s.public[k.KID] = publicKey{key: sg.Public(), alg: k.Alg}
		if k.State == StateActive {
			s.active = k
		}
	}
	if s.active == nil {
		return nil, derrors.NotFoundf("tenant %q has no active signing key", tenantID)
	}
	priv, err := s.active.Signer()
	if err != nil {
		return nil, err
	}
	if s.active.Alg == tenant.AlgRS256 {
		samlLine = s.Keys
	}
	if err := s.loadSAML(samlLine); err != nil {
		return nil, err
	}
	for _, typ := range []string{TypAccessToken, TypJWT, TypLogout} {
		if s.signers[typ], err = newCompactSigner(s.active.Alg, s.active.KID, typ, priv); err != nil {
			return nil, err
		}
	}
	if s.JWKS, err = renderJWKS(s.Keys, now); err != nil {
		return nil, err
	}
	return s, nil
}

// loadSAML orders the SAML line active first, then next, then retired, and
// keeps the active key's private key.
func (s *Set) loadSAML(line []*Key) error {
	for _, state := range []string{StateActive, StateNext, StateRetired} {
		for _, k := range line {
			if k.State == state && k.Alg == tenant.AlgRS256 {
				s.SAMLKeys = append(s.SAMLKeys, k)
			}
		}
	}
	if len(s.SAMLKeys) == 0 || s.SAMLKeys[0].State != StateActive {
		s.SAMLKeys = nil
		return nil
	}
	sg, err := s.SAMLKeys[0].Signer()
	if err != nil {
		return err
	}
	priv, ok := sg.(*rsa.PrivateKey)
	if !ok {
		return fmt.Errorf("keys: SAML key %s is not RSA", s.SAMLKeys[0].KID)
	}
	s.saml = priv
	return nil
}

// SAML returns the tenant's key set with a SAML signer: a tenant whose
// token keys are not RSA gets its SAML line (an active and a next RS256 key)
// on first use.
func (m *Manager) SAML(ctx context.Context, tenantID string) (*Set, error) {
	s, err := m.Get(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if _, _, ok := s.SAMLSigner(); ok {
		return s, nil
	}
	ks, ver, err := m.Store.ListKeys(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if !hasLine(ks, UseSAML) {
		now := m.Now()
		line, err := newLine(tenantID, tenant.AlgRS256, UseSAML, now)
		if err != nil {
			return nil, err
		}
		// A Conflict means another request or replica changed the set
		// first (most likely with this same line): reload either way.
		if err := m.Store.SaveKeys(ctx, tenantID, ver, line, nil); err != nil && !derrors.Is(err, derrors.Conflict) {
			return nil, err
		}
	}
	m.cache.Delete(tenantID)
	if s, err = m.Get(ctx, tenantID); err != nil {
		return nil, err
	}
	if _, _, ok := s.SAMLSigner(); !ok {
		return nil, derrors.Conflictf("keys", "the tenant's SAML signing key is being made; try again")
	}
	return s, nil
}

func hasLine(ks []*Key, use string) bool {
	for _, k := range ks {
		if k.Use == use {
			return true
		}
	}
	return false
}

// newLine makes an active and a next key of alg for a key line.
func newLine(tenantID, alg, use string, now time.Time) ([]*Key, error) {
	active, err := Generate(tenantID, alg, now)
	if err != nil {
		return nil, err
	}
	next, err := Generate(tenantID, alg, now)
	if err != nil {
		return nil, err
	}
	active.State, active.Use, next.Use = StateActive, use, use
	return []*Key{active, next}, nil
}

// Init gives a tenant without keys an active key and a next key of alg. It
// does nothing when the tenant has keys.
func (m *Manager) Init(ctx context.Context, tenantID, alg string) error {
	ks, ver, err := m.Store.ListKeys(ctx, tenantID)
	if err != nil {
		return err
	}
	if len(ks) > 0 {
		return nil
	}
	line, err := newLine(tenantID, alg, "", m.Now())
	if err != nil {
		return err
	}
	err = m.Store.SaveKeys(ctx, tenantID, ver, line, nil)
	if derrors.Is(err, derrors.Conflict) {
		return nil // another replica initialised it first
	}
	return err
}

// Rotate makes the published next key the active one, retires the active key
// (published until RetireAfter has passed), drops keys past their retirement
// and publishes a new next key of alg (R-KEY-2). A SAML line, when the
// tenant has one, rotates with it (its keys stay RS256).
func (m *Manager) Rotate(ctx context.Context, tenantID, alg string) error {
	ks, ver, err := m.Store.ListKeys(ctx, tenantID)
	if err != nil {
		return err
	}
	now := m.Now()
	var tokens, saml []*Key
	for _, k := range ks {
		if k.Use == UseSAML {
			saml = append(saml, k)
		} else {
			tokens = append(tokens, k)
		}
	}
	upsert, remove, err := m.rotateLine(tenantID, tokens, alg, "", now)
	if err != nil {
		return err
	}
	if len(saml) > 0 {
		up, rm, err := m.rotateLine(tenantID, saml, tenant.AlgRS256, UseSAML, now)
		if err != nil {
			return err
		}
		upsert, remove = append(upsert, up...), append(remove, rm...)
	}
	if err := m.Store.SaveKeys(ctx, tenantID, ver, upsert, remove); err != nil {
		if derrors.Is(err, derrors.Conflict) {
			return derrors.Conflictf("keys", "the key set changed during rotation (another rotation?); try again")
		}
		return err
	}
	m.cache.Delete(tenantID)
	return nil
}

// rotateLine rotates one key line: its next key becomes active, its active
// key retires, a fresh next key of alg is made and keys past retirement go.
func (m *Manager) rotateLine(tenantID string, ks []*Key, alg, use string, now time.Time) (upsert []*Key, remove []string, err error) {
	var next *Key
	for _, k := range ks {
		switch {
		case k.State == StateNext:
			next = k
		case k.State == StateActive:
			k.State = StateRetired
			k.RetireAt = now.Add(m.RetireAfter).UTC()
			upsert = append(upsert, k)
		case !k.Published(now):
			remove = append(remove, k.KID)
		}
	}
	if next == nil {
		// A line that lost its next key (never the case for lines made by
		// Init) gets a fresh active key: nothing can have cached it yet,
		// but resource servers refetch the JWKS on an unknown kid.
		if next, err = Generate(tenantID, alg, now); err != nil {
			return nil, nil, err
		}
		next.Use = use
	}
	next.State = StateActive
	upsert = append(upsert, next)
	fresh, err := Generate(tenantID, alg, now)
	if err != nil {
		return nil, nil, err
	}
	fresh.Use = use
	return append(upsert, fresh), remove, nil
}
