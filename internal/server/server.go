// Package server is the composition root: it opens the store, builds the
// services and handlers, and runs the HTTP server with health, readiness,
// metrics and graceful shutdown (R-RUN-1..3). It is the only package that
// knows every other.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	gatehouse "github.com/gatehouse-id/gatehouse"
	"github.com/gatehouse-id/gatehouse/internal/adminapi"
	"github.com/gatehouse-id/gatehouse/internal/app"
	"github.com/gatehouse-id/gatehouse/internal/audit"
	"github.com/gatehouse-id/gatehouse/internal/config"
	"github.com/gatehouse-id/gatehouse/internal/integration"
	"github.com/gatehouse-id/gatehouse/internal/keys"
	"github.com/gatehouse-id/gatehouse/internal/login"
	"github.com/gatehouse-id/gatehouse/internal/middleware"
	"github.com/gatehouse-id/gatehouse/internal/oidc"
	"github.com/gatehouse-id/gatehouse/internal/outbound"
	"github.com/gatehouse-id/gatehouse/internal/ratelimit"
	"github.com/gatehouse-id/gatehouse/internal/saml"
	"github.com/gatehouse-id/gatehouse/internal/seal"
	"github.com/gatehouse-id/gatehouse/internal/store"
	"github.com/gatehouse-id/gatehouse/internal/tenant"
	"github.com/gatehouse-id/gatehouse/internal/user"
)

// retireAfter keeps a rotated-out key published for the longest token
// lifetime (1440 minutes, R-APP-7) plus clock skew (R-KEY-2).
const retireAfter = app.MaxTokenLifetime + 5*time.Minute

// Server is a configured Gatehouse.
type Server struct {
	Config  config.Config
	Log     *slog.Logger
	DB      *store.DB
	Keys    *keys.Manager
	Apps    *app.Service
	Users   *user.Service
	Ring    *seal.Ring
	Handler http.Handler
	// Metrics serves the Prometheus metrics, on --metrics-listen only
	// (ServeMetrics), never on the main listener.
	Metrics http.Handler
	// AdminCreds is set when this start created the admin client.
	AdminCreds *adminapi.Credentials
	themes     *themeCache
	// auditQueue writes security events in the background (Serve runs it).
	auditQueue *audit.Queue
}

// New builds a server from a validated config: it loads the master key,
// opens and migrates the store, and makes the system tenant and the admin
// client on the first start.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, getenv func(string) string) (*Server, error) {
	ring, err := MasterKeys(cfg, log, getenv)
	if err != nil {
		return nil, err
	}
	db, err := OpenStore(ctx, cfg, ring)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	s := &Server{Config: cfg, Log: log, DB: db, Ring: ring}
	s.Keys = &keys.Manager{Store: db, Now: time.Now, RefreshInterval: cfg.KeyRefreshInterval, RetireAfter: retireAfter}
	s.Apps = &app.Service{
		Store:  db,
		Hasher: ring,
		Limits: app.Limits{MaxApps: cfg.MaxApps, MaxScopes: cfg.MaxScopes, MaxPermissions: cfg.MaxPermissions, SecretLength: cfg.SecretLength},
		Now:    time.Now,
	}
	s.Users = &user.Service{Store: db, Now: time.Now}
	created, err := adminapi.Bootstrap(ctx, db, s.Keys, s.Apps, time.Now())
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	// Fail fast when the master key cannot open the stored keys.
	if _, err := s.Keys.Get(ctx, tenant.System); err != nil {
		db.Close()
		return nil, err
	}
	if created != nil {
		s.AdminCreds = &adminapi.Credentials{
			Server:       cfg.PublicURL,
			ClientID:     created.App.ClientID,
			ClientSecret: created.ClientSecret,
			TokenURL:     oidc.Issuer(cfg.PublicURL, tenant.System) + oidc.PathToken,
		}
		if err := writeAdminFile(cfg.AdminFile, s.AdminCreds); err != nil {
			log.Error("cannot write the admin credentials; rotate the admin client's secret with a new start on an empty store", "path", cfg.AdminFile, "error", err)
		} else {
			log.Info("admin credentials written", "path", cfg.AdminFile, "client_id", created.App.ClientID)
		}
	}
	if s.Handler, err = s.routes(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) routes() (http.Handler, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range sqliteOnly(s.DB.Dialect(), []struct {
		name, help string
		get        func(store.WriterStats) int64
	}{
		{"gatehouse_store_commits_total", "SQLite write transactions committed (each groups concurrent writes).", func(s store.WriterStats) int64 { return s.Commits }},
		{"gatehouse_store_writes_total", "SQLite writes committed; writes / commits is the mean group size.", func(s store.WriterStats) int64 { return s.Writes }},
		{"gatehouse_store_checkpoints_total", "SQLite WAL checkpoints run by the background checkpointer.", func(s store.WriterStats) int64 { return s.Checkpoints }},
		{"gatehouse_store_wal_restarts_total", "Times the SQLite WAL was checkpointed whole and started over.", func(s store.WriterStats) int64 { return s.Restarts }},
	}) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help},
			func() float64 { return float64(c.get(s.DB.WriterStats())) }))
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gatehouse_store_cache_on",
		Help: "1 while apps and users are served from the replica's cache: always on SQLite; on PostgreSQL while its LISTEN connection listens (--cache-max-age)."},
		func() float64 {
			if s.DB.Cached() {
				return 1
			}
			return 0
		}))
	mux := http.NewServeMux()
	pages, err := s.loginPages()
	if err != nil {
		return nil, err
	}
	s.auditQueue = audit.NewQueue(s.DB, 10000)
	pages.Audit = s.auditQueue.Record
	pages.Register(mux)
	p := &oidc.Provider{
		PublicURL: s.Config.PublicURL, Apps: s.Apps, Keys: s.Keys, Grants: s.DB, Tenants: s.DB, Users: directory{s.Users},
		Sessions: pages, Seal: s.Ring, Throttle: pages.Limiter, ClientIP: func(r *http.Request) string { return login.ClientIP(r, pages.TrustedProxies) },
		Now: time.Now, Log: s.Log, Metrics: oidc.NewMetrics(reg),
		CodeLifetime: s.Config.CodeLifetime, RequestLifetime: s.Config.RequestLifetime, RefreshGrace: s.Config.RefreshGrace,
	}
	if s.DB.Dialect() == store.Postgres {
		// Other replicas revoke too; one process on SQLite sees all at once.
		p.RevokedRefreshInterval = s.Config.RevokedRefreshInterval
	}
	p.Audit = s.auditQueue.Record
	p.Register(mux)
	idp := &saml.IdP{
		PublicURL: s.Config.PublicURL, Apps: s.DB, Sessions: pages, Users: s.Users, Grants: s.DB, Keys: s.Keys,
		Now: time.Now, Log: s.Log, RequestLifetime: s.Config.RequestLifetime, OnLogout: p.LogoutSession,
	}
	idp.Register(mux)
	p.FrontChannelLogout = idp.Logout
	api := &adminapi.API{PublicURL: s.Config.PublicURL, Tenants: s.DB, Apps: s.Apps, Users: s.Users, Keys: s.Keys, Log: s.Log, Now: time.Now, OpenAPI: gatehouse.OpenAPI, Lockouts: pages.Limiter, Themes: s.themes, Consents: s.DB,
		Integrations: &integration.Service{Store: s.DB, Now: time.Now}, Audit: s.DB}
	if err := api.Register(mux); err != nil {
		return nil, err
	}
	var counter ratelimit.Counter = &ratelimit.Local{}
	if s.DB.Dialect() == store.Postgres {
		counter = store.RateCounter{DB: s.DB}
	}
	calls := &outbound.Service{PublicURL: s.Config.PublicURL, Integrations: api.Integrations, Verifier: callVerifier{p}, Log: s.Log,
		Tokens: s.DB, Seal: s.Ring, Sessions: pages,
		Limiter:         &ratelimit.Limiter{Counter: counter, Now: time.Now},
		MaxRequestBytes: s.Config.IntegrationMaxRequestBytes, MaxResponseBytes: s.Config.IntegrationMaxResponseBytes, Timeout: s.Config.IntegrationTimeout}
	calls.Register(mux)
	api.Outbound = calls
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := s.DB.Ping(ctx); err != nil {
			s.Log.Warn("not ready", "error", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("database unreachable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	s.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return middleware.Wrap(mux, s.Log, middleware.NewMetrics(reg)), nil
}

// callVerifier checks the bearer tokens of integration calls as
// introspection does.
type callVerifier struct{ p *oidc.Provider }

func (v callVerifier) Verify(ctx context.Context, tid, token string) (outbound.Caller, bool, error) {
	a, ok, err := v.p.VerifyAccess(ctx, tid, token)
	if !ok {
		return outbound.Caller{}, false, err
	}
	return outbound.Caller{ClientID: a.ClientID, UserID: a.UserID, Scopes: a.Scopes}, true, nil
}

// loginPages builds the login and consent pages (R-OID-9, R-OID-10). The
// form-token key derives from the master key, so every replica accepts the
// forms of every other.
func (s *Server) loginPages() (*login.Pages, error) {
	proxies, err := login.ParseTrustedProxies(s.Config.TrustedProxies)
	if err != nil {
		return nil, err
	}
	threshold, lockout := s.Config.LockoutThreshold, s.Config.LockoutDuration
	if threshold == 0 {
		threshold = -1 // never lock
	}
	if lockout == 0 {
		lockout = -1 // until an admin unlocks
	}
	s.themes = newThemeCache(s.DB, s.Log)
	return &login.Pages{
		PublicURL: s.Config.PublicURL, Users: s.Users, Store: s.DB, Apps: s.DB, Now: time.Now, Log: s.Log,
		SessionLifetime: s.Config.SessionLifetime,
		Limiter: &login.Limiter{Store: s.DB, Now: time.Now, Log: s.Log, LockoutThreshold: threshold, LockoutDuration: lockout,
			Key: []byte(s.Apps.Hasher.HashSecret("gatehouse login limiter key"))},
		CSRFKey:        []byte(s.Apps.Hasher.HashSecret("gatehouse login form key")),
		TrustedProxies: proxies,
		Themes:         s.themes.Theme,
	}, nil
}

// DatabaseName says which database the server uses, for the start-up log.
func (s *Server) DatabaseName() string {
	if s.DB.Dialect() == store.Postgres {
		return "PostgreSQL"
	}
	return "embedded SQLite in " + s.Config.DataDir
}

// Close releases the store.
func (s *Server) Close() error { return s.DB.Close() }

// Serve answers on ln until ctx ends, then shuts down gracefully, letting
// requests in flight finish within the shutdown timeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	go s.auditQueue.Run(ctx, func(err error) { s.Log.Error("audit event not written", "error", err) })
	if s.Config.JanitorInterval > 0 {
		go s.runJanitor(ctx, s.Config.JanitorInterval)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Log.Info("shutting down", "timeout", s.Config.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.Config.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// OpenStore opens the configured database (not migrated).
func OpenStore(ctx context.Context, cfg config.Config, ring *seal.Ring) (*store.DB, error) {
	return store.Open(ctx, store.Options{
		URL: cfg.Database, Path: filepath.Join(cfg.DataDir, "gatehouse.db"), MaxConns: cfg.DBMaxConns, Seal: ring,
		CacheMaxAge: cfg.CacheMaxAge,
	})
}

// MasterKeys loads the master key ring: GATEHOUSE_MASTER_KEY, else the key
// file, which is created on the first start (R-KEY-4).
func MasterKeys(cfg config.Config, log *slog.Logger, getenv func(string) string) (*seal.Ring, error) {
	if v := getenv("GATEHOUSE_MASTER_KEY"); v != "" {
		ks, err := seal.ParseKeys(v)
		if err != nil {
			return nil, fmt.Errorf("GATEHOUSE_MASTER_KEY: %w", err)
		}
		return seal.NewRing(ks...)
	}
	ks, created, err := seal.LoadOrCreateKeyFile(cfg.MasterKeyFile)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	if created {
		log.Warn("generated a new master key; back it up: without it the stored keys and secrets cannot be read", "path", cfg.MasterKeyFile)
		if cfg.Database != "" {
			log.Warn("with PostgreSQL every replica needs the same master key: give it through GATEHOUSE_MASTER_KEY or --master-key-file")
		}
	}
	return seal.NewRing(ks...)
}

func writeAdminFile(path string, c *adminapi.Credentials) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// sqliteOnly is v on SQLite and nothing on PostgreSQL, whose writes are not
// grouped.
func sqliteOnly[T any](d store.Dialect, v []T) []T {
	if d != store.SQLite {
		return nil
	}
	return v
}
