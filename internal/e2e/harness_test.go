// Package e2e runs whole Gatehouse servers on loopback and drives them the
// way users do: through the CLI, the admin API and real OAuth/OIDC client
// libraries (golang.org/x/oauth2, github.com/coreos/go-oidc/v3).
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/gatehouse-id/gatehouse/internal/cli"
	"github.com/gatehouse-id/gatehouse/internal/config"
	"github.com/gatehouse-id/gatehouse/internal/server"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// instance is one running Gatehouse.
type instance struct {
	URL string
	// MetricsAddr is the metrics listener's host:port (options.metrics).
	MetricsAddr string
	DataDir     string
	Logs        *syncBuffer
	env         map[string]string
}

type options struct {
	database  string
	masterKey string
	dataDir   string
	mutate    func(*config.Config)
	// metrics serves the metrics on a loopback port of their own.
	metrics bool
}

func newMasterKey() string {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

// start runs a server in-process on a loopback port until the test ends.
func start(t *testing.T, o options) *instance {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inst := &instance{URL: "http://" + ln.Addr().String(), Logs: &syncBuffer{}, env: map[string]string{}}
	inst.DataDir = o.dataDir
	if inst.DataDir == "" {
		inst.DataDir = t.TempDir()
	}
	cfg := config.Default()
	cfg.DataDir = inst.DataDir
	cfg.Listen = ln.Addr().String()
	cfg.PublicURL = inst.URL
	cfg.Database = o.database
	cfg.LogLevel = "debug"
	cfg.KeyRefreshInterval = time.Second
	cfg.RefreshGrace = time.Second
	if o.mutate != nil {
		o.mutate(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.masterKey != "" {
		inst.env["GATEHOUSE_MASTER_KEY"] = o.masterKey
	}
	log := slog.New(slog.NewJSONHandler(inst.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	s, err := server.New(ctx, cfg, log, inst.getenv)
	if err != nil {
		cancel()
		t.Fatalf("server.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	metricsDone := make(chan error, 1)
	if o.metrics {
		mln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		inst.MetricsAddr = mln.Addr().String()
		go func() { metricsDone <- s.ServeMetrics(ctx, mln) }()
	} else {
		metricsDone <- nil
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := <-metricsDone; err != nil {
			t.Errorf("serve metrics: %v", err)
		}
		s.Close()
	})
	return inst
}

func (i *instance) getenv(k string) string { return i.env[k] }

// cli runs a gatehouse command against the instance and returns stdout,
// stderr and the exit code.
func (i *instance) cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Run(context.Background(), append([]string{"--data-dir", i.DataDir}, args...), cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
	})
	return out.String(), errb.String(), code
}

// cliJSON runs a command with -o json, requires success and decodes stdout.
func (i *instance) cliJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out, errs, code := i.cli(t, append(args, "-o", "json")...)
	if code != 0 {
		t.Fatalf("gatehouse %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("gatehouse %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type createdApp struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	Endpoints    struct {
		Issuer      string `json:"issuer"`
		Token       string `json:"token_endpoint"`
		JWKS        string `json:"jwks_uri"`
		Certificate string `json:"certificate_pem_url"`
	} `json:"endpoints"`
}

func (i *instance) createTenant(t *testing.T, name, alg string) string {
	t.Helper()
	var out struct {
		Name   string `json:"name"`
		Issuer string `json:"issuer"`
	}
	args := []string{"tenant", "create", name}
	if alg != "" {
		args = append(args, "--signing-alg", alg)
	}
	i.cliJSON(t, &out, args...)
	if out.Name != name || out.Issuer != i.URL+"/t/"+name {
		t.Fatalf("tenant create: got %+v", out)
	}
	return out.Issuer
}

func (i *instance) createApp(t *testing.T, tenant string, args ...string) createdApp {
	t.Helper()
	var out createdApp
	i.cliJSON(t, &out, append([]string{"app", "create", "--tenant", tenant}, args...)...)
	return out
}

// admin returns an HTTP client that calls the admin API with a fresh token
// of the given scope.
func (i *instance) adminToken(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(i.DataDir, "admin.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return tokenFor(t, i.URL+"/t/system/oauth/token", c.ClientID, c.ClientSecret, url.Values{"audience": {"urn:gatehouse:admin"}})
}

func tokenFor(t *testing.T, tokenURL, id, secret string, extra url.Values) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range extra {
		form[k] = v
	}
	req, _ := http.NewRequest("POST", tokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(body, &tr) != nil {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	return tr.AccessToken
}

// apiResult is an HTTP answer: status and decoded JSON body.
type apiResult struct {
	Status int
	Body   map[string]any
	Raw    string
	Header http.Header
}

func (i *instance) api(t *testing.T, token, method, path string, body any) apiResult {
	t.Helper()
	var rd io.Reader
	if s, ok := body.(string); ok {
		rd = strings.NewReader(s)
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, i.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := apiResult{Status: resp.StatusCode, Raw: string(raw), Header: resp.Header}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

func postForm(t *testing.T, u string, form url.Values, id, secret string) apiResult {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := apiResult{Status: resp.StatusCode, Raw: string(raw), Header: resp.Header}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

// postgresURL returns a DSN of a fresh schema on the test PostgreSQL, or
// skips (fails under CI=true) when GATEHOUSE_TEST_POSTGRES is not set.
func postgresURL(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("GATEHOUSE_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but GATEHOUSE_TEST_POSTGRES is not set: PostgreSQL tests must run in CI")
		}
		t.Skip("SKIPPING PostgreSQL test: set GATEHOUSE_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := fmt.Sprintf("e2e_%x", b)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
		db.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
