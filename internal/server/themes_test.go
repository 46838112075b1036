package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-id/gatehouse/internal/derrors"
	"github.com/gatehouse-id/gatehouse/internal/ui"
)

// fakeThemes is a theme store that counts reads and can fail.
type fakeThemes struct {
	mu     sync.Mutex
	themes map[string]ui.Theme
	reads  int
	err    error
}

func (f *fakeThemes) GetTheme(_ context.Context, tid string) (ui.Theme, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	if f.err != nil {
		return ui.Theme{}, time.Time{}, f.err
	}
	t, ok := f.themes[tid]
	if !ok {
		return ui.Theme{}, time.Time{}, derrors.NotFoundf("no theme")
	}
	return t, time.Time{}, nil
}

func (f *fakeThemes) SaveTheme(_ context.Context, tid string, t ui.Theme, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.themes[tid] = t
	return nil
}

func (f *fakeThemes) DeleteTheme(_ context.Context, tid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.themes, tid)
	return nil
}

func (f *fakeThemes) set(tid string, t ui.Theme) {
	_ = f.SaveTheme(context.Background(), tid, t, time.Time{})
}

func (f *fakeThemes) readCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// R-OID-9, R-RUN-2: a tenant's theme is read from the store at most once
// per TTL; another replica's change shows after the TTL, this replica's at
// once; tenants without a theme get the default; a failing store never
// fails a page; the cache stays bounded.
func TestThemeCache(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	src := &fakeThemes{themes: map[string]ui.Theme{}}
	c := newThemeCache(src, slog.New(slog.DiscardHandler))
	c.now = func() time.Time { return now }
	acme := ui.Theme{ProductName: "Acme", PrimaryColor: "#ffcc00"}
	src.set("acme", acme)

	if got := c.Theme(ctx, "acme"); got != acme {
		t.Fatalf("Theme = %+v", got)
	}
	if got := c.Theme(ctx, "other"); got != ui.DefaultTheme() {
		t.Fatalf("a tenant without a theme: %+v", got)
	}
	for range 10 {
		c.Theme(ctx, "acme")
		c.Theme(ctx, "other")
	}
	if n := src.readCount(); n != 2 {
		t.Fatalf("%d store reads within the TTL, want 2", n)
	}

	// Another replica changes the theme: seen once the TTL has passed.
	src.set("acme", ui.Theme{ProductName: "Acme 2"})
	now = now.Add(themeTTL - time.Millisecond)
	if got := c.Theme(ctx, "acme"); got != acme {
		t.Fatalf("before the TTL: %+v", got)
	}
	now = now.Add(time.Millisecond)
	if got := c.Theme(ctx, "acme"); got.ProductName != "Acme 2" {
		t.Fatalf("after the TTL: %+v", got)
	}

	// A change through this replica (the admin API) shows at once.
	if err := c.SaveTheme(ctx, "acme", ui.Theme{ProductName: "Acme 3"}, now); err != nil {
		t.Fatal(err)
	}
	if got := c.Theme(ctx, "acme"); got.ProductName != "Acme 3" {
		t.Fatalf("after SaveTheme: %+v", got)
	}
	if err := c.DeleteTheme(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if got := c.Theme(ctx, "acme"); got != ui.DefaultTheme() {
		t.Fatalf("after DeleteTheme: %+v", got)
	}

	// The store fails: the last theme known, or the default; not cached.
	src.set("acme", acme)
	now = now.Add(themeTTL)
	c.Theme(ctx, "acme")
	src.mu.Lock()
	src.err = errors.New("database down")
	src.mu.Unlock()
	now = now.Add(themeTTL)
	if got := c.Theme(ctx, "acme"); got != acme {
		t.Fatalf("store down, known tenant: %+v", got)
	}
	if got := c.Theme(ctx, "never-seen"); got != ui.DefaultTheme() {
		t.Fatalf("store down, unknown tenant: %+v", got)
	}
	before := src.readCount()
	c.Theme(ctx, "never-seen")
	if src.readCount() != before+1 {
		t.Fatal("a failed read was cached")
	}
	src.mu.Lock()
	src.err = nil
	src.mu.Unlock()

	// Bounded: many tenants never hold more than the limit.
	c.max = 50
	for i := range 500 {
		c.Theme(ctx, fmt.Sprint("tenant-", i))
	}
	c.mu.Lock()
	size := len(c.m)
	c.mu.Unlock()
	if size > c.max {
		t.Fatalf("cache holds %d tenants, limit %d", size, c.max)
	}
}

// blockingThemes holds a read until released, to race it with a write.
type blockingThemes struct {
	*fakeThemes
	reading, release chan struct{}
}

func (b *blockingThemes) GetTheme(ctx context.Context, tid string) (ui.Theme, time.Time, error) {
	t, at, err := b.fakeThemes.GetTheme(ctx, tid)
	b.reading <- struct{}{}
	<-b.release
	return t, at, err
}

// A read that started before a write and ends after it is not kept: the
// write shows at once, not after a TTL.
func TestThemeCacheReadRacingWrite(t *testing.T) {
	ctx := t.Context()
	src := &blockingThemes{fakeThemes: &fakeThemes{themes: map[string]ui.Theme{"acme": {ProductName: "Old"}}}, reading: make(chan struct{}), release: make(chan struct{})}
	c := newThemeCache(src, slog.New(slog.DiscardHandler))
	done := make(chan ui.Theme)
	go func() { done <- c.Theme(ctx, "acme") }()
	<-src.reading
	if err := c.SaveTheme(ctx, "acme", ui.Theme{ProductName: "New"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	close(src.release)
	if got := <-done; got.ProductName != "Old" {
		t.Fatalf("the racing read returned %+v", got)
	}
	go func() { <-src.reading }()
	if got := c.Theme(ctx, "acme"); got.ProductName != "New" {
		t.Fatalf("after the write: %+v (the racing read's stale theme was cached)", got)
	}
}
