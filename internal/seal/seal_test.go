package seal_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/seal"
)

// testKey returns a fixed 32-byte key filled with b.
func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func newRing(t testing.TB, keys ...[]byte) *seal.Ring {
	t.Helper()
	r, err := seal.NewRing(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustSeal(t testing.TB, r *seal.Ring, pt, aad []byte) string {
	t.Helper()
	s, err := r.Seal(pt, aad)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewRing(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys [][]byte
		ok   bool
	}{
		{"one key", [][]byte{testKey(1)}, true},
		{"two keys", [][]byte{testKey(1), testKey(2)}, true},
		{"no key", nil, false},
		{"short key", [][]byte{make([]byte, 31)}, false},
		{"long key", [][]byte{make([]byte, 33)}, false},
		{"AES-128 key", [][]byte{make([]byte, 16)}, false},
		{"good then bad", [][]byte{testKey(1), make([]byte, 16)}, false},
	} {
		r, err := seal.NewRing(tc.keys...)
		if (err == nil) != tc.ok || (r != nil) != tc.ok {
			t.Errorf("%s: NewRing = %v, %v; want ok=%v", tc.name, r, err, tc.ok)
		}
	}
}

func TestKeyID(t *testing.T) {
	a, a2, b := newRing(t, testKey(1)), newRing(t, testKey(1), testKey(2)), newRing(t, testKey(2))
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(a.KeyID()) {
		t.Errorf("KeyID = %q, want 16 hex digits", a.KeyID())
	}
	if a.KeyID() != a2.KeyID() {
		t.Errorf("KeyID depends on the old keys: %q vs %q", a.KeyID(), a2.KeyID())
	}
	if a.KeyID() == b.KeyID() {
		t.Errorf("two keys share KeyID %q", a.KeyID())
	}
	if strings.Contains(hex.EncodeToString(testKey(1)), a.KeyID()) {
		t.Errorf("KeyID %q reveals key bytes", a.KeyID())
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	r := newRing(t, testKey(1))
	big := bytes.Repeat([]byte("secret "), 100000)
	for _, tc := range []struct {
		name    string
		pt, aad []byte
	}{
		{"empty", nil, nil},
		{"empty with aad", []byte{}, []byte("integrations/42/api_key")},
		{"short", []byte("hunter2"), []byte("row-1")},
		{"binary", []byte{0, 1, 2, 0xff, 0xfe}, []byte{0}},
		{"large", big, []byte("x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSeal(t, r, tc.pt, tc.aad)
			if !strings.HasPrefix(s, "v1.") {
				t.Errorf("sealed value %.20q does not start with v1.", s)
			}
			if len(tc.pt) > 0 && bytes.Contains([]byte(s), tc.pt) {
				t.Error("sealed value contains the plaintext")
			}
			got, err := r.Open(s, tc.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.pt) {
				t.Errorf("Open = %.40q, want %.40q", got, tc.pt)
			}
		})
	}
	// The nonce is random: sealing the same value twice gives two ciphertexts.
	if s1, s2 := mustSeal(t, r, []byte("same"), nil), mustSeal(t, r, []byte("same"), nil); s1 == s2 {
		t.Error("sealing the same plaintext twice gave the same ciphertext")
	}
}

func TestOpenRefuses(t *testing.T) {
	r := newRing(t, testKey(1))
	aad := []byte("integrations/42/api_key")
	good := mustSeal(t, r, []byte("api-key-123"), aad)
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(good, "v1."))
	if err != nil {
		t.Fatal(err)
	}
	enc := func(b []byte) string { return "v1." + base64.RawURLEncoding.EncodeToString(b) }

	cases := map[string]struct {
		sealed string
		aad    []byte
	}{
		"wrong aad":     {good, []byte("integrations/43/api_key")},
		"no aad":        {good, nil},
		"unknown key":   {mustSeal(t, newRing(t, testKey(9)), []byte("api-key-123"), aad), aad},
		"empty":         {"", aad},
		"prefix only":   {"v1.", aad},
		"no prefix":     {strings.TrimPrefix(good, "v1."), aad},
		"other version": {"v2." + strings.TrimPrefix(good, "v1."), aad},
		"padded base64": {good + "==", aad},
		"std alphabet":  {"v1." + base64.RawStdEncoding.EncodeToString(raw) + "+/", aad},
		"not base64":    {"v1.!!!!", aad},
		"kid only":      {enc(raw[:8]), aad},
		"short kid":     {enc(raw[:5]), aad},
		"no tag":        {enc(raw[:8+12+15]), aad},
		"truncated":     {enc(raw[:len(raw)-1]), aad},
		"extra byte":    {enc(append(slices.Clone(raw), 0)), aad},
	}
	// Flipping any single bit anywhere (key id, nonce, ciphertext, tag) must
	// be detected.
	for i := range raw {
		b := slices.Clone(raw)
		b[i] ^= 0x01
		cases[fmt.Sprintf("flip bit in byte %d", i)] = struct {
			sealed string
			aad    []byte
		}{enc(b), aad}
	}
	for name, tc := range cases {
		pt, err := r.Open(tc.sealed, tc.aad)
		if !errors.Is(err, seal.ErrOpen) || pt != nil {
			t.Errorf("%s: Open = %q, %v; want nil, ErrOpen", name, pt, err)
		}
	}
	// The good value still opens: the cases above failed for their own reason.
	if pt, err := r.Open(good, aad); err != nil || string(pt) != "api-key-123" {
		t.Errorf("Open(good) = %q, %v", pt, err)
	}
}

func TestRotation(t *testing.T) {
	oldKey, newKey := testKey(1), testKey(2)
	before := newRing(t, oldKey)
	after := newRing(t, newKey, oldKey)
	aad := []byte("keys/7/private")

	sealedOld := mustSeal(t, before, []byte("old value"), aad)
	if pt, err := after.Open(sealedOld, aad); err != nil || string(pt) != "old value" {
		t.Errorf("rotated ring: Open(value sealed by the old key) = %q, %v", pt, err)
	}
	// New values are sealed with the new (first) key.
	sealedNew := mustSeal(t, after, []byte("new value"), aad)
	if _, err := newRing(t, newKey).Open(sealedNew, aad); err != nil {
		t.Errorf("value sealed after rotation does not open with the new key alone: %v", err)
	}
	if _, err := before.Open(sealedNew, aad); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("old ring opened a value sealed with the new key: %v", err)
	}
	if after.KeyID() != newRing(t, newKey).KeyID() {
		t.Error("rotated ring's KeyID is not the new key's")
	}
	// Once the old key is retired, its values no longer open.
	if _, err := newRing(t, newKey).Open(sealedOld, aad); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("ring without the old key opened its value: %v", err)
	}
}

func TestHashSecret(t *testing.T) {
	r := newRing(t, testKey(1))
	h := r.HashSecret("s3cr3t-value-123")
	if !regexp.MustCompile(`^[0-9a-f]{16}\.[0-9a-f]{64}$`).MatchString(h) {
		t.Fatalf("HashSecret = %q, want kid.hmac in hex", h)
	}
	if !strings.HasPrefix(h, r.KeyID()+".") {
		t.Errorf("hash %q is not under the current key %q", h, r.KeyID())
	}
	if strings.Contains(h, "s3cr3t") {
		t.Error("hash contains the secret")
	}
	if h2 := r.HashSecret("s3cr3t-value-123"); h2 != h {
		t.Errorf("HashSecret is not deterministic: %q vs %q", h, h2)
	}
	if h2 := r.HashSecret("s3cr3t-value-124"); h2 == h {
		t.Error("two secrets hash alike")
	}
	if h2 := newRing(t, testKey(2)).HashSecret("s3cr3t-value-123"); h2[17:] == h[17:] {
		t.Error("the hash does not depend on the master key (no pepper)")
	}

	for _, tc := range []struct {
		name, secret string
		want         bool
	}{
		{"right", "s3cr3t-value-123", true},
		{"wrong", "s3cr3t-value-124", false},
		{"prefix", "s3cr3t-value-12", false},
		{"longer", "s3cr3t-value-1234", false},
		{"empty", "", false},
	} {
		if got := r.VerifySecret(h, tc.secret); got != tc.want {
			t.Errorf("%s: VerifySecret = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !r.VerifySecret(r.HashSecret(""), "") || r.VerifySecret(r.HashSecret(""), "x") {
		t.Error("empty secret does not round-trip")
	}
}

func TestVerifySecretAfterRotation(t *testing.T) {
	oldKey, newKey := testKey(1), testKey(2)
	before := newRing(t, oldKey)
	after := newRing(t, newKey, oldKey)
	h := before.HashSecret("client-secret")
	if !after.VerifySecret(h, "client-secret") {
		t.Error("hash made under the old key does not verify after rotation")
	}
	if after.VerifySecret(h, "other") {
		t.Error("wrong secret verifies after rotation")
	}
	if before.VerifySecret(after.HashSecret("client-secret"), "client-secret") {
		t.Error("old ring verified a hash made under a key it does not hold")
	}
	if newRing(t, newKey).VerifySecret(h, "client-secret") {
		t.Error("hash under a retired key still verifies")
	}
}

func TestVerifySecretMalformed(t *testing.T) {
	r := newRing(t, testKey(1))
	h := r.HashSecret("pw")
	kid, mac, _ := strings.Cut(h, ".")
	for name, stored := range map[string]string{
		"empty":            "",
		"no dot":           kid + mac,
		"dot only":         ".",
		"kid only":         kid + ".",
		"mac only":         "." + mac,
		"short kid":        kid[:14] + "." + mac,
		"long kid":         kid + "00." + mac,
		"short mac":        kid + "." + mac[:62],
		"long mac":         kid + "." + mac + "00",
		"non-hex kid":      "zz" + kid[2:] + "." + mac,
		"non-hex mac":      kid + "." + "zz" + mac[2:],
		"two dots":         kid + "." + mac[:31] + "." + mac[32:],
		"unknown kid":      strings.Repeat("0", 16) + "." + mac,
		"other key's hash": newRing(t, testKey(3)).HashSecret("pw"),
		"mac flipped":      kid + "." + flipHex(mac),
		"bcrypt":           "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"plain text":       "pw",
	} {
		if r.VerifySecret(stored, "pw") {
			t.Errorf("%s: VerifySecret(%q) = true, want false", name, stored)
		}
	}
	if !r.VerifySecret(h, "pw") {
		t.Error("the well-formed hash does not verify")
	}
}

func flipHex(s string) string {
	b := []byte(s)
	if b[0] == '0' {
		b[0] = '1'
	} else {
		b[0] = '0'
	}
	return string(b)
}

// The HMAC states are pooled: concurrent use must not mix them up.
func TestHashSecretConcurrent(t *testing.T) {
	r := newRing(t, testKey(1))
	want := map[string]string{}
	for _, s := range []string{"a", "bb", "ccc", "dddd"} {
		want[s] = r.HashSecret(s)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for range 8 {
		wg.Go(func() {
			for range 500 {
				for s, h := range want {
					if got := r.HashSecret(s); got != h {
						errs <- "HashSecret(" + s + ") changed under concurrency"
						return
					}
					if !r.VerifySecret(h, s) || r.VerifySecret(h, s+"x") {
						errs <- "VerifySecret wrong under concurrency"
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestParseKeys(t *testing.T) {
	ff := testKey(0xff) // base64 of 0xff… uses '/' (std) and '_' (url)
	k1 := testKey(1)
	for _, tc := range []struct {
		name string
		in   string
		want [][]byte // nil: error
	}{
		{"std padded", base64.StdEncoding.EncodeToString(ff), [][]byte{ff}},
		{"std raw", base64.RawStdEncoding.EncodeToString(ff), [][]byte{ff}},
		{"url padded", base64.URLEncoding.EncodeToString(ff), [][]byte{ff}},
		{"url raw", base64.RawURLEncoding.EncodeToString(ff), [][]byte{ff}},
		{"hex", hex.EncodeToString(k1), [][]byte{k1}},
		{"hex upper", strings.ToUpper(hex.EncodeToString(ff)), [][]byte{ff}},
		{"list keeps order", hex.EncodeToString(k1) + "," + base64.StdEncoding.EncodeToString(ff), [][]byte{k1, ff}},
		{"list with spaces and empties", " ," + hex.EncodeToString(ff) + " , ,\t" + hex.EncodeToString(k1) + "\n,", [][]byte{ff, k1}},
		{"empty", "", nil},
		{"only commas", " , ,", nil},
		{"16-byte key", base64.StdEncoding.EncodeToString(make([]byte, 16)), nil},
		{"33-byte key", base64.StdEncoding.EncodeToString(make([]byte, 33)), nil},
		{"short hex", hex.EncodeToString(k1)[:62], nil},
		{"hex of 16 bytes", hex.EncodeToString(make([]byte, 16)), nil},
		{"not a key", "correct horse battery staple", nil},
		{"second key bad", hex.EncodeToString(k1) + ",nope", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := seal.ParseKeys(tc.in)
			if tc.want == nil {
				if err == nil {
					t.Errorf("ParseKeys(%q) = %x, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseKeys(%q): %v", tc.in, err)
			}
			if !slices.EqualFunc(got, tc.want, bytes.Equal) {
				t.Errorf("ParseKeys(%q) = %x, want %x", tc.in, got, tc.want)
			}
		})
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state", "master.key")

	keys, created, err := seal.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !created || len(keys) != 1 || len(keys[0]) != 32 {
		t.Fatalf("first call: created=%v, %d keys of %d bytes; want a new 32-byte key", created, len(keys), len(keys[0]))
	}
	if bytes.Equal(keys[0], make([]byte, 32)) {
		t.Error("the new key is all zeros")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %v, want 0600", perm)
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm()&0o077 != 0 {
		t.Errorf("key directory mode %v (%v): others may read it", di.Mode().Perm(), err)
	}

	again, created, err := seal.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if created || len(again) != 1 || !bytes.Equal(again[0], keys[0]) {
		t.Errorf("second call: created=%v keys %x; want the same key %x", created, again, keys[0])
	}

	// The key works: a value sealed with it opens after a "restart".
	s := mustSeal(t, newRing(t, keys...), []byte("v"), nil)
	if _, err := newRing(t, again...).Open(s, nil); err != nil {
		t.Errorf("value sealed with the created key does not open with the re-read one: %v", err)
	}

	// A file of two keys (rotation by hand) loads both, in order.
	two := filepath.Join(dir, "two.key")
	content := hex.EncodeToString(testKey(2)) + "," + base64.StdEncoding.EncodeToString(keys[0]) + "\n"
	if err := os.WriteFile(two, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got, created, err := seal.LoadOrCreateKeyFile(two)
	if err != nil || created || !slices.EqualFunc(got, [][]byte{testKey(2), keys[0]}, bytes.Equal) {
		t.Errorf("two-key file: %x, created=%v, %v", got, created, err)
	}

	// A damaged file is an error and is left as it was, never replaced by a
	// new key (that would lose every sealed secret).
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := seal.LoadOrCreateKeyFile(bad); err == nil {
		t.Error("damaged key file accepted")
	}
	if b, _ := os.ReadFile(bad); string(b) != "garbage\n" {
		t.Errorf("damaged key file was rewritten to %q", b)
	}

	// A directory where the file should be is an error too.
	if _, _, err := seal.LoadOrCreateKeyFile(dir); err == nil {
		t.Error("a directory was accepted as the key file")
	}
}

// FuzzOpen: Open never panics, fails only with ErrOpen, and anything it opens
// is a value this ring really sealed (there is no way to forge one).
func FuzzOpen(f *testing.F) {
	r := newRing(f, testKey(1), testKey(2))
	plaintexts := map[string]bool{"api-key-123": true, "": true}
	for pt := range plaintexts {
		s := mustSeal(f, r, []byte(pt), []byte("aad"))
		f.Add(s, []byte("aad"))
		f.Add(s, []byte("other"))
		f.Add(s[:len(s)-1], []byte("aad"))
	}
	old := mustSeal(f, newRing(f, testKey(2)), []byte("api-key-123"), nil)
	f.Add(old, []byte(nil))
	for _, s := range []string{"", "v1.", "v1.AAAA", "v2.AAAA", "v1.!!", "v1." + strings.Repeat("A", 50)} {
		f.Add(s, []byte(nil))
	}
	f.Fuzz(func(t *testing.T, sealed string, aad []byte) {
		pt, err := r.Open(sealed, aad)
		if err != nil {
			if !errors.Is(err, seal.ErrOpen) || pt != nil {
				t.Fatalf("Open(%q) = %q, %v; want nil, ErrOpen", sealed, pt, err)
			}
			return
		}
		if !plaintexts[string(pt)] {
			t.Fatalf("Open(%q) produced %q, which was never sealed", sealed, pt)
		}
	})
}

func BenchmarkVerifySecret(b *testing.B) {
	r := newRing(b, testKey(1), testKey(2))
	h := r.HashSecret("Abcdefgh12345678")
	b.ReportAllocs()
	for b.Loop() {
		if !r.VerifySecret(h, "Abcdefgh12345678") {
			b.Fatal("does not verify")
		}
	}
}

func BenchmarkSeal(b *testing.B) {
	r := newRing(b, testKey(1))
	pt := []byte("a client secret or an integration's API key")
	aad := []byte("integrations/42/api_key")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Seal(pt, aad); err != nil {
			b.Fatal(err)
		}
	}
}
