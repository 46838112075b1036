// Command bffload loads the token-management service's RetrieveAccessToken
// over HTTP (issue 10's benchmark, bench/bff.sh): it signs in once through
// the BFF and a Gatehouse tenant's login page, then calls
// POST /Session/RetrieveAccessToken with that session from -workers
// goroutines for -duration, no refresh due, and prints requests per second
// and the BFF process's CPU per request (from /proc/PID/stat).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

var (
	formAction  = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

func main() {
	bff := flag.String("bff", "", "the BFF's URL")
	domain := flag.String("domain", "", "the customer domain to sign in at")
	user := flag.String("username", "", "Gatehouse user; password in BFF_PASSWORD")
	origin := flag.String("origin", "", "the front end's origin (the BFF's cors_origin)")
	frontEnd := flag.String("front-end", "", "the front end's redirect URL (where the login ends)")
	pid := flag.Int("pid", 0, "the BFF's process ID, for its CPU")
	workers := flag.Int("workers", 8, "concurrent requests")
	duration := flag.Duration("duration", 10*time.Second, "measured run")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured run first")
	flag.Parse()
	if err := run(*bff, *domain, *user, os.Getenv("BFF_PASSWORD"), *origin, *frontEnd, *pid, *workers, *duration, *warmup); err != nil {
		fmt.Fprintln(os.Stderr, "bffload:", err)
		os.Exit(1)
	}
}

func run(bff, domain, user, password, origin, frontEnd string, pid, workers int, duration, warmup time.Duration) error {
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), frontEnd) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := b.Get(bff + "/Auth/Domains/" + domain + "/BeginLogin")
	if err != nil {
		return err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formAction.FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		return fmt.Errorf("BeginLogin did not reach a login page: %d", resp.StatusCode)
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(string(m[1])))
	if err != nil {
		return err
	}
	form := url.Values{"username": {user}, "password": {password}}
	for _, h := range hiddenInput.FindAllSubmatch(page, -1) {
		form.Set(html.UnescapeString(string(h[1])), html.UnescapeString(string(h[2])))
	}
	req, _ := http.NewRequest("POST", action.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", action.Scheme+"://"+action.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if resp, err = b.Do(req); err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), frontEnd) {
		return fmt.Errorf("the login did not end at the front end: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = b.Get(bff + "/Session/CheckSession")
	if err != nil {
		return err
	}
	var cs struct {
		IsLoggedIn bool   `json:"isLoggedIn"`
		RVT        string `json:"requestVerificationToken"`
	}
	err = json.NewDecoder(resp.Body).Decode(&cs)
	resp.Body.Close()
	if err != nil || !cs.IsLoggedIn {
		return errors.New("CheckSession: not logged in after the login")
	}
	// The load: a plain client with the session's cookies, no jar (the
	// cookies do not change: no refresh is due, and the idle timeout
	// slides by the minute).
	u, _ := url.Parse(bff)
	var cookie []string
	for _, c := range jar.Cookies(u) {
		cookie = append(cookie, c.Name+"="+c.Value)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: workers * 2}
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	call := func() error {
		req, _ := http.NewRequest("POST", bff+"/Session/RetrieveAccessToken", nil)
		req.Header.Set("Cookie", strings.Join(cookie, "; "))
		req.Header.Set("RequestVerificationToken", cs.RVT)
		req.Header.Set("Origin", origin)
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"accessToken"`) {
			return fmt.Errorf("%d %.200s", resp.StatusCode, body)
		}
		return nil
	}
	if err := call(); err != nil {
		return fmt.Errorf("RetrieveAccessToken: %v", err)
	}
	phase(call, workers, warmup)
	cpu0 := ticks(pid)
	ops, bad, lat := phase(call, workers, duration)
	cpu := float64(ticks(pid)-cpu0) / 100 // USER_HZ
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	usPerOp := cpu * 1e6 / float64(max(ops, 1))
	fmt.Printf("BFF_RESULT retrieve ops=%d failed=%d req/s=%.0f p50_ms=%.2f p99_ms=%.2f bff_cpu_s=%.2f cpu_us_per_op=%.1f per_core=%.0f/s\n",
		ops, bad, float64(ops)/duration.Seconds(), pct(0.5), pct(0.99), cpu, usPerOp, 1e6/max(usPerOp, 1e-9))
	if bad > 0 {
		return fmt.Errorf("%d requests failed", bad)
	}
	return nil
}

// phase runs call on workers goroutines for d.
func phase(call func() error, workers int, d time.Duration) (ops, bad int64, lat []time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var okN, badN atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for ctx.Err() == nil {
				t0 := time.Now()
				if err := call(); err != nil {
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

// ticks is a process's utime+stime in clock ticks (0 without a pid).
func ticks(pid int) int64 {
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
