package user

import (
	"runtime"
	"testing"
	"time"
)

// At most GOMAXPROCS argon2id computations run at once; the next waits.
func TestHashSlotsBoundConcurrency(t *testing.T) {
	s := &Service{}
	n := runtime.GOMAXPROCS(0)
	releases := make([]func(), n)
	for i := range releases {
		releases[i] = s.hashSlot()
	}
	got := make(chan struct{})
	go func() {
		release := s.hashSlot()
		close(got)
		release()
	}()
	select {
	case <-got:
		t.Fatalf("a hash slot beyond %d was granted", n)
	case <-time.After(50 * time.Millisecond):
	}
	releases[0]()
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("a released slot was not handed on")
	}
	for _, r := range releases[1:] {
		r()
	}
}
