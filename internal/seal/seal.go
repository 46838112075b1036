// Package seal encrypts secrets at rest with a master key ring (R-KEY-4).
//
// A sealed value is "v1." followed by the base64url (no padding) encoding of
// kid(8) || nonce(12) || AES-256-GCM ciphertext. The kid names the master key
// that sealed it, so the ring can hold old keys for opening while new values
// are sealed with the current one. The associated data binds a ciphertext to
// the row it belongs to, so a sealed value cannot be moved to another row.
//
// The ring also derives the pepper for client-secret hashes (HMAC-SHA256), one
// per master key, so secret hashes made under an old master key still verify.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

const (
	prefix  = "v1."
	kidLen  = 8
	keySize = 32
)

// ErrOpen is returned when a sealed value cannot be opened: unknown master
// key, tampered ciphertext or wrong associated data.
var ErrOpen = errors.New("seal: cannot open sealed value")

type masterKey struct {
	kid    [kidLen]byte
	aead   cipher.AEAD
	pepper []byte
	macs   sync.Pool
}

// Ring holds the master keys: the first seals, all open.
type Ring struct {
	keys []*masterKey
}

// NewRing builds a ring from raw 32-byte keys; keys[0] is the current one.
func NewRing(keys ...[]byte) (*Ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no master key")
	}
	r := &Ring{}
	for i, k := range keys {
		if len(k) != keySize {
			return nil, fmt.Errorf("seal: master key %d is %d bytes, want %d", i+1, len(k), keySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(append([]byte("gatehouse master key id\x00"), k...))
		pepper, err := hkdf.Key(sha256.New, k, nil, "gatehouse client secret pepper", 32)
		if err != nil {
			return nil, err
		}
		mk := &masterKey{aead: aead, pepper: pepper}
		copy(mk.kid[:], sum[:kidLen])
		mk.macs.New = func() any { return hmac.New(sha256.New, mk.pepper) }
		r.keys = append(r.keys, mk)
	}
	return r, nil
}

// ParseKeys decodes a comma-separated list of base64 (std or url, padded or
// not) or hex encoded 32-byte keys.
func ParseKeys(s string) ([][]byte, error) {
	var out [][]byte
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, err := decodeKey(part)
		if err != nil {
			return nil, fmt.Errorf("master key %d: %w", i+1, err)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("no master key given")
	}
	return out, nil
}

func decodeKey(s string) ([]byte, error) {
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != keySize {
				return nil, fmt.Errorf("decodes to %d bytes, want %d", len(b), keySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("not base64 or hex")
}

// LoadOrCreateKeyFile reads the master key file at path, or creates it with a
// new random key (mode 0600) if it does not exist. created tells which.
func LoadOrCreateKeyFile(path string) (keys [][]byte, created bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		keys, err = ParseKeys(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, false, fmt.Errorf("master key file %s: %w", path, err)
		}
		return keys, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	k := make([]byte, keySize)
	if _, err := rand.Read(k); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, false, err
	}
	_, werr := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, false, werr
	}
	return [][]byte{k}, true, nil
}

// KeyID returns the hex id of the current master key.
func (r *Ring) KeyID() string { return hex.EncodeToString(r.keys[0].kid[:]) }

// Seal encrypts plaintext with the current master key, bound to aad.
func (r *Ring) Seal(plaintext, aad []byte) (string, error) {
	k := r.keys[0]
	buf := make([]byte, kidLen+k.aead.NonceSize(), kidLen+k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	copy(buf, k.kid[:])
	if _, err := rand.Read(buf[kidLen:]); err != nil {
		return "", err
	}
	buf = k.aead.Seal(buf, buf[kidLen:], plaintext, aad)
	return prefix + base64.RawURLEncoding.EncodeToString(buf), nil
}

// Open decrypts a value made by Seal with the same aad.
func (r *Ring) Open(sealed string, aad []byte) ([]byte, error) {
	if !strings.HasPrefix(sealed, prefix) {
		return nil, ErrOpen
	}
	buf, err := base64.RawURLEncoding.DecodeString(sealed[len(prefix):])
	if err != nil || len(buf) < kidLen {
		return nil, ErrOpen
	}
	k := r.find(buf[:kidLen])
	if k == nil || len(buf) < kidLen+k.aead.NonceSize()+k.aead.Overhead() {
		return nil, ErrOpen
	}
	ns := kidLen + k.aead.NonceSize()
	pt, err := k.aead.Open(nil, buf[kidLen:ns], buf[ns:], aad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

func (r *Ring) find(kid []byte) *masterKey {
	for _, k := range r.keys {
		if subtle.ConstantTimeCompare(k.kid[:], kid) == 1 {
			return k
		}
	}
	return nil
}

// HashSecret returns "kid.hex(HMAC-SHA256(pepper, secret))" under the current
// master key.
func (r *Ring) HashSecret(secret string) string {
	k := r.keys[0]
	sum := k.mac(secret)
	out := make([]byte, 0, 2*kidLen+1+2*sha256.Size)
	out = hex.AppendEncode(out, k.kid[:])
	out = append(out, '.')
	out = hex.AppendEncode(out, sum[:])
	return string(out)
}

// VerifySecret reports, in constant time for a given stored hash, whether
// secret matches it.
func (r *Ring) VerifySecret(stored, secret string) bool {
	kidHex, macHex, ok := strings.Cut(stored, ".")
	if !ok || len(kidHex) != 2*kidLen || len(macHex) != 2*sha256.Size {
		return false
	}
	var kid [kidLen]byte
	var want [sha256.Size]byte
	if _, err := hex.Decode(kid[:], []byte(kidHex)); err != nil {
		return false
	}
	if _, err := hex.Decode(want[:], []byte(macHex)); err != nil {
		return false
	}
	k := r.find(kid[:])
	if k == nil {
		return false
	}
	got := k.mac(secret)
	return hmac.Equal(got[:], want[:])
}

func (k *masterKey) mac(secret string) [sha256.Size]byte {
	h := k.macs.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(secret))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	k.macs.Put(h)
	return sum
}
