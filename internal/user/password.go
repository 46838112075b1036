package user

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters (RFC 9106 §3.1).
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes (p)
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes of the tag
}

// DefaultParams are the parameters new hashes use: OWASP's first argon2id
// configuration (m=19 MiB, t=2, p=1), measured in docs/performance.md.
func DefaultParams() Params {
	return Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds on parameters a stored hash may carry: beyond them the hash is
// refused rather than computed, so a corrupt or hostile row cannot make a
// login allocate gigabytes or spin for minutes.
const (
	MaxMemory  = 1 << 20 // KiB: 1 GiB
	MaxTime    = 64
	MinSaltLen = 8
	MaxSaltLen = 64
	MinKeyLen  = 16
	MaxKeyLen  = 128
)

// argonVersion is the only argon2 version: 0x13 (RFC 9106 §3.1).
const argonVersion = argon2.Version

// b64 is the PHC string format's base64: standard alphabet, no padding,
// canonical (unused trailing bits must be zero).
var b64 = base64.RawStdEncoding.Strict()

// Hash is a parsed argon2id hash in the PHC string format:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<tag>.
type Hash struct {
	Params Params
	Salt   []byte
	Key    []byte
}

// ErrMalformedHash is the error of ParseHash for anything that is not an
// argon2id PHC string within the bounds above.
var ErrMalformedHash = errors.New("not an argon2id PHC string")

// ParseHash parses an argon2id PHC string, accepting any parameters within
// the bounds (hashes made with older or newer settings still verify).
func ParseHash(s string) (*Hash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argonVersion) {
		return nil, ErrMalformedHash
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return nil, ErrMalformedHash
	}
	var vals [3]uint32
	for i, key := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(kv[i], key)
		if !ok {
			return nil, ErrMalformedHash
		}
		n, err := decimal(v)
		if err != nil {
			return nil, err
		}
		vals[i] = n
	}
	m, t, p := vals[0], vals[1], vals[2]
	if p < 1 || p > 255 || t < 1 || t > MaxTime || m < 8*p || m > MaxMemory {
		return nil, fmt.Errorf("%w: parameters out of bounds", ErrMalformedHash)
	}
	// The decoder skips line breaks; a PHC string has none.
	if strings.ContainsAny(parts[4], "\r\n") || strings.ContainsAny(parts[5], "\r\n") {
		return nil, ErrMalformedHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < MinSaltLen || len(salt) > MaxSaltLen {
		return nil, fmt.Errorf("%w: bad salt", ErrMalformedHash)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < MinKeyLen || len(key) > MaxKeyLen {
		return nil, fmt.Errorf("%w: bad hash", ErrMalformedHash)
	}
	return &Hash{
		Params: Params{Memory: m, Time: t, Threads: uint8(p), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))},
		Salt:   salt,
		Key:    key,
	}, nil
}

// decimal parses a canonical decimal uint32: digits only, no leading zero.
func decimal(s string) (uint32, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, ErrMalformedHash
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, ErrMalformedHash
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, ErrMalformedHash
	}
	return uint32(n), nil
}

// String encodes h in the PHC string format.
func (h *Hash) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argonVersion,
		h.Params.Memory, h.Params.Time, h.Params.Threads, b64.EncodeToString(h.Salt), b64.EncodeToString(h.Key))
}

// HashPassword hashes password with argon2id and a fresh random salt.
func HashPassword(password string, p Params) (string, error) {
	if err := p.check(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	h := &Hash{Params: p, Salt: salt, Key: argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)}
	return h.String(), nil
}

func (p Params) check() error {
	if p.Threads < 1 || p.Time < 1 || p.Time > MaxTime || p.Memory < 8*uint32(p.Threads) || p.Memory > MaxMemory ||
		p.SaltLen < MinSaltLen || p.SaltLen > MaxSaltLen || p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen {
		return fmt.Errorf("argon2id parameters out of bounds: %+v", p)
	}
	return nil
}

// VerifyPassword reports whether password matches the encoded hash,
// comparing the tags in constant time, and whether the hash should be
// replaced because it was made with other parameters than current. A
// malformed hash is an error.
func VerifyPassword(encoded, password string, current Params) (ok, rehash bool, err error) {
	h, err := ParseHash(encoded)
	if err != nil {
		return false, false, err
	}
	key := argon2.IDKey([]byte(password), h.Salt, h.Params.Time, h.Params.Memory, h.Params.Threads, uint32(len(h.Key)))
	ok = subtle.ConstantTimeCompare(key, h.Key) == 1
	return ok, h.Params != current, nil
}
