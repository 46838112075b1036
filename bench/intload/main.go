// Command intload measures HTTP integration calls (issue 11's benchmark,
// bench/integration.sh): it serves a small upstream on loopback that checks
// an API key, then alternates rounds of calls made directly to the upstream
// and through Gatehouse's call endpoint (an API-key integration to the same
// upstream) from -workers goroutines, and prints both rates, their ratio and
// Gatehouse's CPU per call (from /proc/PID/stat).
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gatehouse-id/gatehouse/bench/loadgen"
)

func main() {
	listen := flag.String("upstream-listen", "127.0.0.1:0", "where the upstream listens")
	ready := flag.String("ready-file", "", "write the upstream's URL here once it listens, then wait for -go-file")
	goFile := flag.String("go-file", "", "start the load when this file exists (its content: the call URL)")
	token := flag.String("token", "", "bearer token for Gatehouse (or in file -token-file)")
	key := flag.String("key", "", "the API key the upstream requires")
	pid := flag.Int("pid", 0, "Gatehouse's process ID, for its CPU")
	workers := flag.Int("workers", 8, "concurrent requests")
	duration := flag.Duration("duration", 5*time.Second, "each measured round")
	rounds := flag.Int("rounds", 3, "rounds of direct then through")
	flag.Parse()
	if err := run(*listen, *ready, *goFile, *token, *key, *pid, *workers, *duration, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "intload:", err)
		os.Exit(1)
	}
}

var body = []byte(`{"id":42,"title":"printer on floor 3 is out of toner","state":"open","tags":["hardware","printer"]}`)

func run(listen, ready, goFile, token, key string, pid, workers int, duration time.Duration, rounds int) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-API-Key") != key {
			http.Error(w, "bad key", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	upURL := "http://" + ln.Addr().String()
	if err := os.WriteFile(ready, []byte(upURL), 0o600); err != nil {
		return err
	}
	var through string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(goFile); err == nil && len(b) > 0 {
			through = strings.TrimSpace(string(b))
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after 60 s", goFile)
		}
	}
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers * 2}, Timeout: 10 * time.Second}
	call := func(url string, hdr map[string]string) func() error {
		return func() error {
			req, _ := http.NewRequest("GET", url, nil)
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || len(b) != len(body) {
				return fmt.Errorf("%d %.200s", resp.StatusCode, b)
			}
			return nil
		}
	}
	direct := call(upURL+"/api/tickets/42", map[string]string{"X-API-Key": key})
	via := call(through+"tickets/42", map[string]string{"Authorization": "Bearer " + token})
	for _, f := range []func() error{direct, via} {
		if err := f(); err != nil {
			return fmt.Errorf("first call: %v", err)
		}
	}
	loadgen.Phase(ignore(direct), workers, time.Second)
	loadgen.Phase(ignore(via), workers, time.Second)
	for i := 1; i <= rounds; i++ {
		dOps, dBad, _ := loadgen.Phase(ignore(direct), workers, duration)
		cpu0 := loadgen.Ticks(pid)
		tOps, tBad, _ := loadgen.Phase(ignore(via), workers, duration)
		cpu := float64(loadgen.Ticks(pid)-cpu0) / 100
		dRate, tRate := float64(dOps)/duration.Seconds(), float64(tOps)/duration.Seconds()
		fmt.Printf("INT_RESULT round=%d direct_req/s=%.0f through_req/s=%.0f ratio=%.2f gatehouse_cpu_us_per_call=%.1f failed=%d\n",
			i, dRate, tRate, tRate/max(dRate, 1), cpu*1e6/float64(max(tOps, 1)), dBad+tBad)
		if dBad+tBad > 0 {
			return fmt.Errorf("%d calls failed", dBad+tBad)
		}
	}
	return nil
}

// ignore makes a call that does not care which worker makes it.
func ignore(call func() error) func(int) error { return func(int) error { return call() } }
