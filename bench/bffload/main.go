// Command bffload loads the token-management service's RetrieveAccessToken
// over HTTP (issue 10's benchmark, bench/bff.sh): it signs in once through
// the BFF and a Gatehouse tenant's login page, then calls
// POST /Session/RetrieveAccessToken with that session from -workers
// goroutines for -duration, no refresh due, and prints requests per second
// and the BFF process's CPU per request (from /proc/PID/stat).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-id/gatehouse/bench/loadgen"
	"github.com/gatehouse-id/gatehouse/internal/bff"
)

var (
	formAction  = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)
	hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

func main() {
	bffURL := flag.String("bff", "", "the BFF's URL")
	domain := flag.String("domain", "", "the customer domain to sign in at")
	user := flag.String("username", "", "Gatehouse user; password in BFF_PASSWORD")
	origin := flag.String("origin", "", "the front end's origin (the BFF's cors_origin)")
	frontEnd := flag.String("front-end", "", "the front end's redirect URL (where the login ends)")
	pid := flag.Int("pid", 0, "the BFF's process ID, for its CPU (with -refresh: the provider's)")
	workers := flag.Int("workers", 8, "concurrent requests")
	duration := flag.Duration("duration", 10*time.Second, "measured run")
	warmup := flag.Duration("warmup", 2*time.Second, "unmeasured run first")
	refresh := flag.Bool("refresh", false, "a refresh on every call: run the BFF of -config in this process, its clock stepping -step per call")
	config := flag.String("config", "", "with -refresh: the BFF's config file")
	step := flag.Duration("step", 5*time.Minute, "with -refresh: the BFF clock's step per call (at least the access token's lifetime)")
	flag.Parse()
	l := &load{domain: *domain, user: *user, password: os.Getenv("BFF_PASSWORD"), origin: *origin, frontEnd: *frontEnd, workers: *workers}
	var err error
	if *refresh {
		err = l.runRefresh(*config, *step, *pid, *duration, *warmup)
	} else {
		l.bff = *bffURL
		err = l.run(*pid, *duration, *warmup)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bffload:", err)
		os.Exit(1)
	}
}

type load struct {
	bff, domain, user, password, origin, frontEnd string
	workers                                       int
}

// login signs in through the BFF and the provider's login page and returns
// the browser (its jar holds the BFF's cookies) and the anti-forgery token.
func (l *load) login() (*http.Client, string, error) {
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), l.frontEnd) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := b.Get(l.bff + "/Auth/Domains/" + l.domain + "/BeginLogin")
	if err != nil {
		return nil, "", err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formAction.FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		return nil, "", fmt.Errorf("BeginLogin did not reach a login page: %d", resp.StatusCode)
	}
	action, err := resp.Request.URL.Parse(html.UnescapeString(string(m[1])))
	if err != nil {
		return nil, "", err
	}
	form := url.Values{"username": {l.user}, "password": {l.password}}
	for _, h := range hiddenInput.FindAllSubmatch(page, -1) {
		form.Set(html.UnescapeString(string(h[1])), html.UnescapeString(string(h[2])))
	}
	req, _ := http.NewRequest("POST", action.String(), strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", action.Scheme+"://"+action.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if resp, err = b.Do(req); err != nil {
		return nil, "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), l.frontEnd) {
		return nil, "", fmt.Errorf("the login did not end at the front end: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	rvt, err := l.checkSession(b)
	return b, rvt, err
}

// checkSession returns the anti-forgery request token of a logged-in
// browser.
func (l *load) checkSession(b *http.Client) (string, error) {
	resp, err := b.Get(l.bff + "/Session/CheckSession")
	if err != nil {
		return "", err
	}
	var cs struct {
		IsLoggedIn bool   `json:"isLoggedIn"`
		RVT        string `json:"requestVerificationToken"`
	}
	err = json.NewDecoder(resp.Body).Decode(&cs)
	resp.Body.Close()
	if err != nil || !cs.IsLoggedIn {
		return "", errors.New("CheckSession: not logged in")
	}
	return cs.RVT, nil
}

// retrieve is one RetrieveAccessToken call with the browser's cookies (or
// with cookie, when not empty) and returns the status and access token.
func (l *load) retrieve(c *http.Client, cookie, rvt string) (int, string, error) {
	req, _ := http.NewRequest("POST", l.bff+"/Session/RetrieveAccessToken", nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	req.Header.Set("RequestVerificationToken", rvt)
	req.Header.Set("Origin", l.origin)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil && resp.StatusCode == 200 {
		return resp.StatusCode, "", err
	}
	return resp.StatusCode, out.AccessToken, nil
}

// run loads RetrieveAccessToken with one session and no refresh due; the
// BFF's CPU is read from /proc/pid.
func (l *load) run(pid int, duration, warmup time.Duration) error {
	b, rvt, err := l.login()
	if err != nil {
		return err
	}
	// The load: a plain client with the session's cookies, no jar (the
	// cookies do not change: no refresh is due, and the idle timeout
	// slides by the minute).
	u, _ := url.Parse(l.bff)
	var cookies []string
	for _, c := range b.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	cookie := strings.Join(cookies, "; ")
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: l.workers * 2}, Timeout: 5 * time.Second}
	call := func(int) error {
		st, at, err := l.retrieve(c, cookie, rvt)
		if err == nil && (st != 200 || at == "") {
			err = fmt.Errorf("RetrieveAccessToken: %d", st)
		}
		return err
	}
	if err := call(0); err != nil {
		return err
	}
	loadgen.Phase(call, l.workers, warmup)
	cpu0 := loadgen.Ticks(pid)
	ops, bad, lat := loadgen.Phase(call, l.workers, duration)
	cpu := float64(loadgen.Ticks(pid)-cpu0) / 100 // USER_HZ
	usPerOp := cpu * 1e6 / float64(max(ops, 1))
	fmt.Printf("BFF_RESULT retrieve ops=%d failed=%d req/s=%.0f p50_ms=%.2f p99_ms=%.2f bff_cpu_s=%.2f cpu_us_per_op=%.1f per_core=%.0f/s\n",
		ops, bad, float64(ops)/duration.Seconds(), pct(lat, 0.5), pct(lat, 0.99), cpu, usPerOp, 1e6/max(usPerOp, 1e-9))
	if bad > 0 {
		return fmt.Errorf("%d requests failed", bad)
	}
	return nil
}

// runRefresh loads RetrieveAccessToken with a refresh at the provider on
// every call: the BFF of configFile runs in this process, its clock
// stepping by step before each call, so every session's access token is
// due; each worker has its own session, and each call must answer a new
// access token. CPU: this process (BFF and load together) and the
// provider's (pid).
func (l *load) runRefresh(configFile string, step time.Duration, pid int, duration, warmup time.Duration) error {
	cfg, err := bff.LoadConfig(configFile, os.Getenv)
	if err != nil {
		return err
	}
	svc, err := bff.New(cfg, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	var offset atomic.Int64
	svc.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	l.bff = cfg.PublicURL

	type worker struct {
		b        *http.Client
		rvt      string
		last     string
		renewals int
	}
	ws := make([]*worker, l.workers)
	for i := range ws {
		b, rvt, err := l.login()
		if err != nil {
			return err
		}
		ws[i] = &worker{b: b, rvt: rvt}
	}
	call := func(i int) error {
		w := ws[i]
		offset.Add(int64(step))
		st, at, err := l.retrieve(w.b, "", w.rvt)
		if st == http.StatusBadRequest {
			// The anti-forgery cookie (a day long) expired on the
			// stepping clock: CheckSession issues a new pair.
			w.renewals++
			if w.rvt, err = l.checkSession(w.b); err != nil {
				return err
			}
			offset.Add(int64(step))
			st, at, err = l.retrieve(w.b, "", w.rvt)
		}
		switch {
		case err != nil:
			return err
		case st != 200 || at == "":
			return fmt.Errorf("RetrieveAccessToken: %d", st)
		case at == w.last:
			return errors.New("RetrieveAccessToken: no refresh although one was due")
		}
		w.last = at
		return nil
	}
	loadgen.Phase(call, l.workers, warmup)
	self, cpu0, gh0 := os.Getpid(), loadgen.Ticks(os.Getpid()), loadgen.Ticks(pid)
	ops, bad, lat := loadgen.Phase(call, l.workers, duration)
	cpu, gh := float64(loadgen.Ticks(self)-cpu0)/100, float64(loadgen.Ticks(pid)-gh0)/100
	renewals := 0
	for _, w := range ws {
		renewals += w.renewals
	}
	n := float64(max(ops, 1))
	fmt.Printf("BFF_RESULT refresh ops=%d failed=%d req/s=%.0f p50_ms=%.2f p99_ms=%.2f bff_and_load_cpu_us_per_op=%.1f provider_cpu_us_per_op=%.1f per_core_both=%.0f/s csrf_renewals=%d\n",
		ops, bad, float64(ops)/duration.Seconds(), pct(lat, 0.5), pct(lat, 0.99), cpu*1e6/n, gh*1e6/n, n/max(cpu+gh, 1e-9), renewals)
	if bad > 0 {
		return fmt.Errorf("%d requests failed", bad)
	}
	return nil
}

// pct is the p-th fraction of the latencies (sorted in place).
func pct(lat []time.Duration, p float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
}
