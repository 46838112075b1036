package store_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/store"
)

// One SQLite database, one process: the in-memory client cache relies on it.
func TestSQLiteIsExclusive(t *testing.T) {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	ring, err := seal.NewRing(k)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "g.db")
	ctx := context.Background()
	first, err := store.Open(ctx, store.Options{Path: path, Seal: ring})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(ctx, store.Options{Path: path, Seal: ring}); err == nil || !strings.Contains(err.Error(), "another Gatehouse process") {
		t.Fatalf("second open: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := store.Open(ctx, store.Options{Path: path, Seal: ring})
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	again.Close()
}
