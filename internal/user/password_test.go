package user_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/user"
)

// TestDefaultParamsOWASP: new hashes use at least OWASP's first argon2id
// configuration (m = 19 MiB, t = 2, p = 1), a 16-byte salt and a 32-byte tag.
func TestDefaultParamsOWASP(t *testing.T) {
	p := user.DefaultParams()
	if p.Memory < 19*1024 || p.Time < 2 || p.Threads != 1 || p.SaltLen < 16 || p.KeyLen < 32 {
		t.Errorf("DefaultParams() = %+v: below m=19456 KiB, t=2, p=1, 16-byte salt, 32-byte tag", p)
	}
}

// TestKnownAnswer checks our PHC encoding and argon2id against the vector of
// the reference implementation's test suite (phc-winner-argon2 src/test.c):
// "password", salt "somesalt", t=2, m=64 MiB, p=1.
func TestKnownAnswer(t *testing.T) {
	const phc = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	h, err := user.ParseHash(phc)
	if err != nil {
		t.Fatal(err)
	}
	if string(h.Salt) != "somesalt" || h.Params != (user.Params{Memory: 65536, Time: 2, Threads: 1, SaltLen: 8, KeyLen: 32}) {
		t.Errorf("parsed %+v salt %q", h.Params, h.Salt)
	}
	if h.String() != phc {
		t.Errorf("String() = %q, want %q", h.String(), phc)
	}
	ok, rehash, err := user.VerifyPassword(phc, "password", user.DefaultParams())
	if err != nil || !ok {
		t.Fatalf("the reference hash does not verify: ok=%v err=%v", ok, err)
	}
	if !rehash {
		t.Error("a hash with other parameters than the current ones does not ask for a rehash")
	}
	if ok, _, _ := user.VerifyPassword(phc, "passwore", user.DefaultParams()); ok {
		t.Error("a wrong password verifies")
	}
}

func TestHashVerify(t *testing.T) {
	p := user.DefaultParams()
	h1, err := user.HashPassword("correct horse battery staple", p)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := user.HashPassword("correct horse battery staple", p)
	if err != nil {
		t.Fatal(err)
	}
	if h1 == h2 {
		t.Error("two hashes of one password are equal: no random salt")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h1, "correct") {
		t.Errorf("hash %q", h1)
	}
	parsed, err := user.ParseHash(h1)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Params != p || len(parsed.Salt) != 16 || len(parsed.Key) != 32 {
		t.Errorf("parsed %+v, salt %d bytes, tag %d bytes", parsed.Params, len(parsed.Salt), len(parsed.Key))
	}
	for _, c := range []struct {
		password string
		ok       bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"correct horse battery staple ", false},
		{"Correct horse battery staple", false},
		{"", false},
	} {
		ok, rehash, err := user.VerifyPassword(h1, c.password, p)
		if err != nil || ok != c.ok || rehash {
			t.Errorf("VerifyPassword(%q) = %v, rehash %v, %v; want %v, no rehash", c.password, ok, rehash, err, c.ok)
		}
	}
	// Other current parameters: still verifies, asks for a rehash.
	for _, cur := range []user.Params{
		{Memory: 64 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 19 * 1024, Time: 3, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 19 * 1024, Time: 2, Threads: 2, SaltLen: 16, KeyLen: 32},
		{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 32, KeyLen: 32},
		{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 64},
	} {
		ok, rehash, err := user.VerifyPassword(h1, "correct horse battery staple", cur)
		if err != nil || !ok || !rehash {
			t.Errorf("current %+v: ok %v rehash %v err %v; want ok and a rehash", cur, ok, rehash, err)
		}
	}
	// A hash made with other parameters verifies under the defaults.
	small := user.Params{Memory: 256, Time: 3, Threads: 2, SaltLen: 12, KeyLen: 16}
	h3, err := user.HashPassword("pässwörd ✓", small)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h3, "$argon2id$v=19$m=256,t=3,p=2$") {
		t.Errorf("hash %q", h3)
	}
	ok, rehash, err := user.VerifyPassword(h3, "pässwörd ✓", p)
	if err != nil || !ok || !rehash {
		t.Errorf("old-parameter hash: ok %v rehash %v err %v", ok, rehash, err)
	}
	if _, _, err := user.VerifyPassword("$2a$10$abcdefghijklmnopqrstuv", "x", p); !errors.Is(err, user.ErrMalformedHash) {
		t.Errorf("VerifyPassword(bcrypt hash) error %v, want ErrMalformedHash", err)
	}
	if _, err := user.HashPassword("x", user.Params{}); err == nil {
		t.Error("HashPassword with zero parameters succeeded")
	}
}

func TestParseHash(t *testing.T) {
	const salt, key = "c29tZXNhbHQ", "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	mk := func(head, params string) string { return "$" + head + "$" + params + "$" + salt + "$" + key }
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"valid", mk("argon2id$v=19", "m=65536,t=2,p=1"), true},
		{"smallest", mk("argon2id$v=19", "m=8,t=1,p=1"), true},
		{"largest", mk("argon2id$v=19", "m=1048576,t=64,p=255"), true},
		{"argon2i", mk("argon2i$v=19", "m=65536,t=2,p=1"), false},
		{"argon2d", mk("argon2d$v=19", "m=65536,t=2,p=1"), false},
		{"version 16", mk("argon2id$v=16", "m=65536,t=2,p=1"), false},
		{"no version", "$argon2id$m=65536,t=2,p=1$" + salt + "$" + key, false},
		{"other order", mk("argon2id$v=19", "t=2,m=65536,p=1"), false},
		{"missing p", mk("argon2id$v=19", "m=65536,t=2"), false},
		{"extra parameter", mk("argon2id$v=19", "m=65536,t=2,p=1,data=abc"), false},
		{"leading zero", mk("argon2id$v=19", "m=065536,t=2,p=1"), false},
		{"plus sign", mk("argon2id$v=19", "m=+65536,t=2,p=1"), false},
		{"negative", mk("argon2id$v=19", "m=-1,t=2,p=1"), false},
		{"overflow", mk("argon2id$v=19", "m=4294967296,t=2,p=1"), false},
		{"memory below 8p", mk("argon2id$v=19", "m=15,t=1,p=2"), false},
		{"memory above 1 GiB", mk("argon2id$v=19", "m=1048577,t=1,p=1"), false},
		{"t=0", mk("argon2id$v=19", "m=65536,t=0,p=1"), false},
		{"t=65", mk("argon2id$v=19", "m=65536,t=65,p=1"), false},
		{"p=0", mk("argon2id$v=19", "m=65536,t=2,p=0"), false},
		{"p=256", mk("argon2id$v=19", "m=65536,t=2,p=256"), false},
		{"padded salt", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "=$" + key, false},
		{"non-canonical salt", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHR$" + key, false},
		{"url-safe alphabet", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + strings.NewReplacer("+", "-", "/", "_").Replace(key+"+/") + "AA", false},
		{"salt of 7 bytes", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbA$" + key, false},
		{"tag of 15 bytes", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + "AAAAAAAAAAAAAAAAAAAA", false},
		{"newline in tag", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$" + key[:10] + "\n" + key[10:], false},
		{"trailing segment", mk("argon2id$v=19", "m=65536,t=2,p=1") + "$x", false},
		{"no leading dollar", strings.TrimPrefix(mk("argon2id$v=19", "m=65536,t=2,p=1"), "$"), false},
		{"empty", "", false},
		{"plaintext", "hunter22", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := user.ParseHash(tc.in)
			if tc.ok {
				if err != nil {
					t.Fatalf("ParseHash: %v", err)
				}
				if h.String() != tc.in {
					t.Errorf("String() = %q, want %q", h.String(), tc.in)
				}
				return
			}
			if !errors.Is(err, user.ErrMalformedHash) {
				t.Errorf("ParseHash(%q) = %+v, %v; want ErrMalformedHash", tc.in, h, err)
			}
		})
	}
}

// FuzzParseHash: the PHC parser never panics; what it accepts is within the
// bounds and is exactly the canonical encoding of what it parsed.
func FuzzParseHash(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=4294967295,t=4294967295,p=255$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ=$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$2a$10$abcdefghijklmnopqrstuv",
		"$$$$$",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := user.ParseHash(s)
		if err != nil {
			if !errors.Is(err, user.ErrMalformedHash) {
				t.Fatalf("ParseHash(%q) error %v is not ErrMalformedHash", s, err)
			}
			return
		}
		p := h.Params
		if p.Threads < 1 || p.Time < 1 || p.Time > user.MaxTime || p.Memory < 8*uint32(p.Threads) || p.Memory > user.MaxMemory {
			t.Fatalf("accepted %q with parameters out of bounds: %+v", s, p)
		}
		if len(h.Salt) < user.MinSaltLen || len(h.Salt) > user.MaxSaltLen || len(h.Key) < user.MinKeyLen || len(h.Key) > user.MaxKeyLen ||
			int(p.SaltLen) != len(h.Salt) || int(p.KeyLen) != len(h.Key) {
			t.Fatalf("accepted %q with salt %d / tag %d bytes, params %+v", s, len(h.Salt), len(h.Key), p)
		}
		if h.String() != s {
			t.Fatalf("accepted %q, which is not canonical (re-encodes as %q)", s, h.String())
		}
	})
}

// BenchmarkHashPassword measures one argon2id hash with DefaultParams: the
// cost of a login and the figure in docs/performance.md.
func BenchmarkHashPassword(b *testing.B) {
	p := user.DefaultParams()
	for b.Loop() {
		if _, err := user.HashPassword("correct horse battery staple", p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/hash")
}

// BenchmarkVerifyPassword measures a successful verification.
func BenchmarkVerifyPassword(b *testing.B) {
	p := user.DefaultParams()
	h, err := user.HashPassword("correct horse battery staple", p)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, _ := user.VerifyPassword(h, "correct horse battery staple", p); !ok {
			b.Fatal("does not verify")
		}
	}
}
