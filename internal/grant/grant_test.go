package grant

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Ordered identifiers and secrets sort in the order they were made, and the
// stored key of an ordered secret keeps that order (the point of them:
// appends to the indexes instead of random pages).
func TestOrderedSortInCreationOrder(t *testing.T) {
	var ids, secrets, keys []string
	for range 3 {
		ids = append(ids, NewOrderedID())
		s := NewOrderedSecret()
		secrets = append(secrets, s)
		keys = append(keys, Hash(s))
		time.Sleep(2 * time.Millisecond)
	}
	for name, v := range map[string][]string{"ids": ids, "secrets": secrets, "keys": keys} {
		if !slices.IsSorted(v) {
			t.Errorf("%s not in creation order: %q", name, v)
		}
	}
	if len(ids[0]) != 28 || len(secrets[0]) != 56 || len(keys[0]) != 13+64 {
		t.Fatalf("lengths: id %d, secret %d, key %d", len(ids[0]), len(secrets[0]), len(keys[0]))
	}
	prefix := secrets[0][:12]
	ms, ok := parseHex(prefix)
	if !ok || time.Since(time.UnixMilli(ms)) > time.Minute {
		t.Fatalf("prefix %q is not the creation time", prefix)
	}
}

func parseHex(s string) (int64, bool) {
	var v int64
	for _, c := range s {
		i := strings.IndexRune("0123456789abcdef", c)
		if i < 0 {
			return 0, false
		}
		v = v<<4 | int64(i)
	}
	return v, true
}

// Hash keeps only a real time prefix: anything else, including secrets made
// before ordered ones existed and crafted look-alikes, hashes as a whole.
func TestHashPrefix(t *testing.T) {
	s := NewOrderedSecret()
	if k := Hash(s); !strings.HasPrefix(k, s[:13]) || strings.Contains(k[13:], s[13:]) {
		t.Fatalf("key %q of %q", k, s)
	}
	for _, plain := range []string{
		NewSecret(), "", "short", "0123456789ab", "0123456789ab.", "0123456789AB.x", "0123456789ag.x", "0123456789abcx",
	} {
		k := Hash(plain)
		if len(k) != 64 && plain != "0123456789ab." {
			t.Errorf("Hash(%q) = %q: want a bare SHA-256", plain, k)
		}
	}
	if Hash(s) == Hash(s[:len(s)-1]+"x") {
		t.Fatal("two secrets with one prefix share a key")
	}
}

// FuzzHash: Hash reads tokens that clients send. Whatever the input, it
// returns the same key for the same secret, a bare hex SHA-256 or a time
// prefix, a dot and one, and never echoes more of the secret than the
// 12-digit prefix.
func FuzzHash(f *testing.F) {
	for _, s := range []string{"", "x", NewSecret(), NewOrderedSecret(), "0123456789ab.", "0123456789ab.\x00", "ffffffffffff.abc", "0123456789AB.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Hash(s)
		if k != Hash(s) {
			t.Fatal("not deterministic")
		}
		switch len(k) {
		case 64:
		case orderedPrefix + 1 + 64:
			if !ordered(s) || k[:orderedPrefix+1] != s[:orderedPrefix+1] {
				t.Fatalf("prefixed key %q for %q", k, s)
			}
		default:
			t.Fatalf("key %q of length %d", k, len(k))
		}
		for _, c := range k[len(k)-64:] {
			if !strings.ContainsRune("0123456789abcdef", c) {
				t.Fatalf("key %q is not hex", k)
			}
		}
	})
}
