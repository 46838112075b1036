// Package config holds the server's settings. Every setting is a flag of
// `gatehouse serve`; each flag can also come from the environment
// (GATEHOUSE_<FLAG_NAME>, dashes as underscores) or a YAML/JSON config file
// (--config, keys are flag names). Precedence: flag > environment > file >
// default. The master key itself is read only from the environment
// (GATEHOUSE_MASTER_KEY) or a file, never from a flag, so it does not show in
// the process list.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// Config is everything `gatehouse serve` needs.
type Config struct {
	DataDir            string
	Database           string
	Listen             string
	PublicURL          string
	MasterKeyFile      string
	MasterKey          string // from GATEHOUSE_MASTER_KEY only
	LogLevel           string
	ShutdownTimeout    time.Duration
	KeyRefreshInterval time.Duration
	// RevokedRefreshInterval is how often a replica on PostgreSQL reads the
	// access tokens other replicas revoked.
	RevokedRefreshInterval time.Duration
	// CacheMaxAge bounds how long a replica on PostgreSQL serves an app or a
	// user from its cache when it hears nothing from the database; other
	// replicas' changes drop the cache when they commit (LISTEN/NOTIFY).
	// Zero turns the cache off on PostgreSQL.
	CacheMaxAge      time.Duration
	MaxApps          int
	MaxScopes        int
	MaxPermissions   int
	SecretLength     int
	DBMaxConns       int
	AdminFile        string
	DebugListen      string
	MetricsListen    string
	GCPercent        int
	CodeLifetime     time.Duration
	RequestLifetime  time.Duration
	RefreshGrace     time.Duration
	JanitorInterval  time.Duration
	SessionLifetime  time.Duration
	LockoutThreshold int
	LockoutDuration  time.Duration
	TrustedProxies   []string
	// Integration calls (R-INT-4): body bounds and the time a call may
	// take, the upstream's answer included.
	IntegrationMaxRequestBytes  int64
	IntegrationMaxResponseBytes int64
	IntegrationTimeout          time.Duration
	// AuditRetention is how long audit events are kept (the janitor
	// deletes older ones).
	AuditRetention time.Duration
}

// Default returns the documented defaults.
func Default() Config {
	return Config{
		DataDir:                "./gatehouse-data",
		Listen:                 ":8080",
		LogLevel:               "info",
		ShutdownTimeout:        20 * time.Second,
		KeyRefreshInterval:     5 * time.Second,
		RevokedRefreshInterval: time.Second,
		CacheMaxAge:            time.Second,
		MaxApps:                2000,
		MaxScopes:              1000,
		MaxPermissions:         50,
		SecretLength:           16,
		GCPercent:              400,
		CodeLifetime:           60 * time.Second,
		RequestLifetime:        30 * time.Minute,
		RefreshGrace:           5 * time.Second,
		JanitorInterval:        time.Minute,
		SessionLifetime:        12 * time.Hour,
		LockoutThreshold:       10,
		LockoutDuration:        15 * time.Minute,
		MetricsListen:          "127.0.0.1:9464",

		IntegrationMaxRequestBytes:  10 << 20,
		IntegrationMaxResponseBytes: 50 << 20,
		IntegrationTimeout:          60 * time.Second,
		AuditRetention:              90 * 24 * time.Hour,
	}
}

// DataDirUsage describes --data-dir, which every command shares.
const DataDirUsage = "directory for the embedded database, the master key file and admin.json"

// Bind defines a flag for every setting but --data-dir on fs, with c's values
// as defaults. --data-dir is shared by every command and defined by the CLI.
func (c *Config) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&c.Database, "database", c.Database, "PostgreSQL URL (postgres://...); empty: the embedded SQLite database in --data-dir")
	fs.StringVar(&c.Listen, "listen", c.Listen, "address to listen on")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "URL clients reach the server at; issuers are {public-url}/t/{tenant} (default http://localhost:<listen port>)")
	fs.StringVar(&c.MasterKeyFile, "master-key-file", c.MasterKeyFile, "file holding the master key(s), base64, comma-separated, current first (default {data-dir}/master.key, created if missing; GATEHOUSE_MASTER_KEY takes precedence)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long a graceful shutdown waits for requests in flight")
	fs.DurationVar(&c.KeyRefreshInterval, "key-refresh-interval", c.KeyRefreshInterval, "how often a replica checks for signing keys rotated by another replica")
	fs.DurationVar(&c.RevokedRefreshInterval, "revocation-refresh-interval", c.RevokedRefreshInterval, "how often a replica on PostgreSQL reads the access tokens revoked on another replica")
	fs.DurationVar(&c.CacheMaxAge, "cache-max-age", c.CacheMaxAge, "on PostgreSQL, the longest a replica serves apps and users from its cache without word from the database (other replicas' changes reach it when they commit, by LISTEN/NOTIFY; this bounds rows edited by hand); 0: no cache, every lookup reads PostgreSQL")
	fs.IntVar(&c.MaxApps, "max-apps-per-tenant", c.MaxApps, "most applications per tenant")
	fs.IntVar(&c.MaxScopes, "max-scopes-per-app", c.MaxScopes, "most custom scopes per application")
	fs.IntVar(&c.MaxPermissions, "max-permissions-per-app", c.MaxPermissions, "most permissions per application")
	fs.IntVar(&c.SecretLength, "client-secret-length", c.SecretLength, "length of generated client secrets (16-128)")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", c.DBMaxConns, "database connection pool size (0: 2 per CPU, at least 4)")
	fs.StringVar(&c.AdminFile, "admin-file", c.AdminFile, "where the first start writes the admin client's credentials (default {data-dir}/admin.json)")
	fs.DurationVar(&c.CodeLifetime, "code-lifetime", c.CodeLifetime, "lifetime of authorization codes (at most 60s, R-OID-2)")
	fs.DurationVar(&c.RequestLifetime, "auth-request-lifetime", c.RequestLifetime, "how long a user may take to sign in before the authorization request expires")
	fs.DurationVar(&c.RefreshGrace, "refresh-grace", c.RefreshGrace, "how long a rotated refresh token still gets the same answer, for a client's concurrent retry (0-60s)")
	fs.DurationVar(&c.SessionLifetime, "session-lifetime", c.SessionLifetime, "how long a single sign-on session lasts after the user signs in")
	fs.IntVar(&c.LockoutThreshold, "lockout-threshold", c.LockoutThreshold, "failed sign-ins with one username that lock it (0: never lock; growing delays still apply)")
	fs.DurationVar(&c.LockoutDuration, "lockout-duration", c.LockoutDuration, "how long a locked username stays locked (0: until an admin unlocks it)")
	fs.StringSliceVar(&c.TrustedProxies, "trusted-proxies", c.TrustedProxies, "reverse proxies (IP addresses or CIDR prefixes, comma-separated) whose X-Forwarded-For header names the client")
	fs.DurationVar(&c.JanitorInterval, "janitor-interval", c.JanitorInterval, "how often expired codes, sessions and tokens are deleted (0 turns the janitor off)")
	fs.IntVar(&c.GCPercent, "gc-percent", c.GCPercent, "Go GC target percentage (GOGC); the live heap is small, so a high value trades a little memory for less CPU per request. Ignored when GOGC is set")
	fs.StringVar(&c.DebugListen, "debug-listen", c.DebugListen, "if set, serve Go's pprof profiles on this address (keep it on loopback); off by default")
	fs.StringVar(&c.MetricsListen, "metrics-listen", c.MetricsListen, "address to serve Prometheus metrics (/metrics) on, apart from the main listener; empty: no metrics")
	fs.Int64Var(&c.IntegrationMaxRequestBytes, "integration-max-request-bytes", c.IntegrationMaxRequestBytes, "largest request body an integration call forwards (larger: 413)")
	fs.Int64Var(&c.IntegrationMaxResponseBytes, "integration-max-response-bytes", c.IntegrationMaxResponseBytes, "largest upstream answer an integration call passes back (larger: 502, or a cut connection once streaming)")
	fs.DurationVar(&c.IntegrationTimeout, "integration-timeout", c.IntegrationTimeout, "how long an integration call may take, the upstream's answer included (then 504)")
	fs.DurationVar(&c.AuditRetention, "audit-retention", c.AuditRetention, "how long audit events are kept; the janitor deletes older ones (at least 24h)")
}

// EnvName is the environment variable of a flag.
func EnvName(flag string) string {
	return "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Resolve fills flags not given on the command line from the environment,
// then from the config file at path (if any). It reports unknown file keys.
func Resolve(fs *pflag.FlagSet, path string, getenv func(string) string) error {
	var file map[string]any
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("config file: %w", err)
		}
		if err := yaml.Unmarshal(b, &file); err != nil {
			return fmt.Errorf("config file %s: %w", path, err)
		}
		for k := range file {
			if fs.Lookup(k) == nil || k == "config" {
				return fmt.Errorf("config file %s: unknown setting %q", path, k)
			}
		}
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" || f.Name == "help" {
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvName(f.Name), err))
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			if err := fs.Set(f.Name, fmt.Sprint(v)); err != nil {
				errs = append(errs, fmt.Errorf("config file %s: %w", f.Name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// Validate fills derived defaults and reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.DataDir == "" {
		bad("--data-dir must not be empty")
	}
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		bad("--listen %q: want host:port", c.Listen)
	}
	if c.PublicURL == "" && port != "" {
		c.PublicURL = "http://localhost:" + port
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("--public-url %q: want an http(s) URL without query or fragment", c.PublicURL)
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		bad("--database: want a postgres:// URL, or nothing for the embedded database")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.ShutdownTimeout <= 0 {
		bad("--shutdown-timeout must be positive")
	}
	if c.KeyRefreshInterval < 0 || c.KeyRefreshInterval > time.Hour {
		bad("--key-refresh-interval must be between 0 and 1h")
	}
	if c.RevokedRefreshInterval < 10*time.Millisecond || c.RevokedRefreshInterval > time.Minute {
		bad("--revocation-refresh-interval must be between 10ms and 1m")
	}
	if c.CacheMaxAge < 0 || c.CacheMaxAge > time.Minute {
		bad("--cache-max-age must be between 0 and 1m")
	}
	for _, l := range []struct {
		name string
		v    int
	}{{"max-apps-per-tenant", c.MaxApps}, {"max-scopes-per-app", c.MaxScopes}, {"max-permissions-per-app", c.MaxPermissions}} {
		if l.v < 1 {
			bad("--%s must be at least 1", l.name)
		}
	}
	if c.SecretLength < 16 || c.SecretLength > 128 {
		bad("--client-secret-length must be between 16 and 128")
	}
	if c.DebugListen != "" {
		if _, _, err := net.SplitHostPort(c.DebugListen); err != nil {
			bad("--debug-listen %q: want host:port", c.DebugListen)
		}
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("--metrics-listen %q: want host:port", c.MetricsListen)
		}
	}
	if c.CodeLifetime < time.Second || c.CodeLifetime > 60*time.Second {
		bad("--code-lifetime must be between 1s and 60s")
	}
	if c.RequestLifetime < time.Minute || c.RequestLifetime > 24*time.Hour {
		bad("--auth-request-lifetime must be between 1m and 24h")
	}
	if c.RefreshGrace < 0 || c.RefreshGrace > time.Minute {
		bad("--refresh-grace must be between 0s and 60s")
	}
	if c.JanitorInterval < 0 || c.JanitorInterval > 24*time.Hour {
		bad("--janitor-interval must be between 0 (off) and 24h")
	}
	if c.IntegrationMaxRequestBytes < 1 || c.IntegrationMaxRequestBytes > 1<<30 {
		bad("--integration-max-request-bytes must be between 1 and 1073741824")
	}
	if c.IntegrationMaxResponseBytes < 1 || c.IntegrationMaxResponseBytes > 1<<32 {
		bad("--integration-max-response-bytes must be between 1 and 4294967296")
	}
	if c.IntegrationTimeout < time.Second || c.IntegrationTimeout > 10*time.Minute {
		bad("--integration-timeout must be between 1s and 10m")
	}
	if c.AuditRetention < 24*time.Hour {
		bad("--audit-retention must be at least 24h")
	}
	if c.GCPercent < 50 || c.GCPercent > 10000 {
		bad("--gc-percent must be between 50 and 10000")
	}
	if c.DBMaxConns < 0 {
		bad("--db-max-conns must not be negative")
	}
	if c.SessionLifetime < time.Minute || c.SessionLifetime > 365*24*time.Hour {
		bad("--session-lifetime must be between 1m and 8760h")
	}
	if c.LockoutThreshold < 0 || c.LockoutThreshold > 1000 {
		bad("--lockout-threshold must be between 0 and 1000")
	}
	if c.LockoutDuration < 0 {
		bad("--lockout-duration must not be negative")
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad("--trusted-proxies %q: want an IP address or a CIDR prefix", p)
			}
		}
	}
	if c.MasterKeyFile == "" && c.DataDir != "" {
		c.MasterKeyFile = filepath.Join(c.DataDir, "master.key")
	}
	if c.AdminFile == "" && c.DataDir != "" {
		c.AdminFile = filepath.Join(c.DataDir, "admin.json")
	}
	return errors.Join(errs...)
}
