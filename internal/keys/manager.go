package keys

import (
	"context"
	"crypto"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
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
	Keys    []*Key
	JWKS    []byte
	active  *Key
	signers map[string]*compactSigner // by typ
	public  map[string]publicKey      // by kid
	// validUntil is when a retired key leaves the JWKS, forcing a re-render.
	validUntil time.Time
}

// Active returns the key that signs.
func (s *Set) Active() *Key { return s.active }

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
	for _, k := range ks {
		if !k.Published(now) {
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
		if k.State == StateRetired && k.RetireAt.Before(s.validUntil) {
			s.validUntil = k.RetireAt
		}
	}
	if s.active == nil {
		return nil, derrors.NotFoundf("tenant %q has no active signing key", tenantID)
	}
	priv, err := s.active.Signer()
	if err != nil {
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
	now := m.Now()
	active, err := Generate(tenantID, alg, now)
	if err != nil {
		return err
	}
	active.State = StateActive
	next, err := Generate(tenantID, alg, now)
	if err != nil {
		return err
	}
	err = m.Store.SaveKeys(ctx, tenantID, ver, []*Key{active, next}, nil)
	if derrors.Is(err, derrors.Conflict) {
		return nil // another replica initialised it first
	}
	return err
}

// Rotate makes the published next key the active one, retires the active key
// (published until RetireAfter has passed), drops keys past their retirement
// and publishes a new next key of alg (R-KEY-2).
func (m *Manager) Rotate(ctx context.Context, tenantID, alg string) error {
	ks, ver, err := m.Store.ListKeys(ctx, tenantID)
	if err != nil {
		return err
	}
	now := m.Now()
	var upsert []*Key
	var remove []string
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
		// A set that lost its next key (never the case for sets made by
		// Init) gets a fresh active key: nothing can have cached it yet,
		// but resource servers refetch the JWKS on an unknown kid.
		if next, err = Generate(tenantID, alg, now); err != nil {
			return err
		}
	}
	next.State = StateActive
	upsert = append(upsert, next)
	fresh, err := Generate(tenantID, alg, now)
	if err != nil {
		return err
	}
	upsert = append(upsert, fresh)
	if err := m.Store.SaveKeys(ctx, tenantID, ver, upsert, remove); err != nil {
		if derrors.Is(err, derrors.Conflict) {
			return derrors.Conflictf("keys", "the key set changed during rotation (another rotation?); try again")
		}
		return err
	}
	m.cache.Delete(tenantID)
	return nil
}
