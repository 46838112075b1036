// Package loadgen holds what the benchmark drivers in bench/ (bffload,
// intload) share: a timed phase of concurrent calls, and a process's CPU
// from /proc.
package loadgen

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Phase runs call on workers goroutines (call(i) on the i-th) for d and
// returns the calls that succeeded and failed, and the successes' latencies.
func Phase(call func(worker int) error, workers int, d time.Duration) (ops, bad int64, lat []time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var okN, badN atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				if err := call(i); err != nil {
					badN.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
				okN.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return okN.Load(), badN.Load(), lat
}

// Ticks is a process's utime+stime in clock ticks (USER_HZ, 100 per
// second on Linux); 0 without a pid.
func Ticks(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return u + k
}
