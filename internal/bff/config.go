package bff

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/gatehouse-id/gatehouse/internal/seal"
)

// Config is the service's configuration (R-BFF-3), read from a YAML or JSON
// file; keys are snake_case forms of the seed's (Client.ClientId →
// client.client_id).
type Config struct {
	Listen    string `json:"listen"`
	PublicURL string `json:"public_url"`
	Client    struct {
		ClientID         string   `json:"client_id"`
		ClientSecret     string   `json:"client_secret"`
		ClientSecretFile string   `json:"client_secret_file"`
		ApplicationID    string   `json:"application_id"`
		CallbackPath     string   `json:"callback_path"`
		UsePKCE          *bool    `json:"use_pkce"`
		UseOfflineAccess *bool    `json:"use_offline_access"`
		Scopes           []string `json:"scopes"`
	} `json:"client"`
	FrontEnd struct {
		RedirectURL string `json:"redirect_url"`
		CORSOrigin  string `json:"cors_origin"`
	} `json:"front_end"`
	// Domains maps a customer domain to its OIDC issuer.
	Domains map[string]string `json:"domains"`
	Cookie  struct {
		Keys    []string `json:"keys"`
		KeyFile string   `json:"key_file"`
	} `json:"cookie"`
	Session struct {
		IdleTimeout Duration `json:"idle_timeout"`
		// Store is a postgres:// URL for server-side sessions (ended
		// there by gatehouse bff revoke); empty: the cookies alone.
		Store string `json:"store"`
	} `json:"session"`
	RefreshSkew Duration `json:"refresh_skew"`
}

// Duration is a time.Duration written as in Go ("20m", "30s").
type Duration time.Duration

// UnmarshalJSON reads "20m"-style durations.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`must be a duration such as "20m" or "30s"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New(`must be a duration such as "20m" or "30s"`)
	}
	*d = Duration(v)
	return nil
}

// Defaults (R-BFF-2, R-BFF-3).
const (
	DefaultCallbackPath = "/callback"
	DefaultIdleTimeout  = 20 * time.Minute
	DefaultRefreshSkew  = 30 * time.Second
	// maxConfigBytes bounds the config file.
	maxConfigBytes = 1 << 20
)

// LoadConfig reads and checks the file at path; the client secret may also
// come from GATEHOUSE_BFF_CLIENT_SECRET and the session store's URL (it
// may hold a password) from GATEHOUSE_BFF_SESSION_STORE (getenv), each
// winning over the file's.
// Every problem is reported at once, each with its key.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bff config: %w", err)
	}
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("bff config %s: larger than %d bytes", path, maxConfigBytes)
	}
	var c Config
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("bff config %s: %w", path, err)
	}
	if v := getenv("GATEHOUSE_BFF_CLIENT_SECRET"); v != "" {
		c.Client.ClientSecret = v
	}
	if v := getenv("GATEHOUSE_BFF_SESSION_STORE"); v != "" {
		c.Session.Store = v
	}
	if err := c.finish(); err != nil {
		return nil, fmt.Errorf("bff config %s: %w", path, err)
	}
	return &c, nil
}

// finish applies the defaults, reads the secret and key files and checks
// every setting.
func (c *Config) finish() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8090"
	}
	if u, err := url.Parse(c.PublicURL); c.PublicURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" && u.Path != "/" {
		bad("public_url", "is required: the service's own origin, such as https://tms.example.com")
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Client.ClientID == "" {
		bad("client.client_id", "is required")
	}
	if c.Client.ClientSecretFile != "" {
		if c.Client.ClientSecret != "" {
			bad("client.client_secret_file", "is given with client.client_secret (or GATEHOUSE_BFF_CLIENT_SECRET): give one")
		} else if b, err := os.ReadFile(c.Client.ClientSecretFile); err != nil {
			bad("client.client_secret_file", "%v", err)
		} else {
			c.Client.ClientSecret = strings.TrimSpace(string(b))
		}
	}
	if c.Client.CallbackPath == "" {
		c.Client.CallbackPath = DefaultCallbackPath
	}
	if !strings.HasPrefix(c.Client.CallbackPath, "/") || strings.ContainsAny(c.Client.CallbackPath, "?#{} ") {
		bad("client.callback_path", "must be a path such as /callback")
	}
	yes := true
	if c.Client.UsePKCE == nil {
		c.Client.UsePKCE = &yes
	}
	if c.Client.UseOfflineAccess == nil {
		c.Client.UseOfflineAccess = &yes
	}
	if !*c.Client.UsePKCE && c.Client.ClientSecret == "" {
		bad("client.use_pkce", "may be false only for a confidential client (with a client secret)")
	}
	if u, err := url.Parse(c.FrontEnd.RedirectURL); c.FrontEnd.RedirectURL == "" || err != nil || !u.IsAbs() {
		bad("front_end.redirect_url", "is required: the front end's URL to return to after login")
	}
	if u, err := url.Parse(c.FrontEnd.CORSOrigin); c.FrontEnd.CORSOrigin == "" || err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" {
		bad("front_end.cors_origin", "is required: one origin, scheme://host[:port], without a path")
	}
	if len(c.Domains) == 0 {
		bad("domains", "is required: a map from customer domain to its OIDC issuer URL")
	}
	for d, iss := range c.Domains {
		if !ValidDomain(d) {
			bad("domains."+d, "is not a domain name of at least three labels")
		}
		if u, err := url.Parse(iss); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("domains."+d, "must be an issuer URL")
		}
	}
	if _, err := c.Ring(); err != nil {
		bad("cookie.keys", "%v", err)
	}
	if c.Session.IdleTimeout == 0 {
		c.Session.IdleTimeout = Duration(DefaultIdleTimeout)
	}
	if time.Duration(c.Session.IdleTimeout) < time.Minute || time.Duration(c.Session.IdleTimeout) > 24*time.Hour {
		bad("session.idle_timeout", "must be between 1m and 24h")
	}
	if st := c.Session.Store; st != "" {
		if u, err := url.Parse(st); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			bad("session.store", "must be a postgres:// URL (or be left out: the cookies alone)")
		}
	}
	if c.RefreshSkew == 0 {
		c.RefreshSkew = Duration(DefaultRefreshSkew)
	}
	if c.RefreshSkew < 0 || time.Duration(c.RefreshSkew) > 10*time.Minute {
		bad("refresh_skew", "must be between 0s and 10m")
	}
	return errors.Join(errs...)
}

// Ring is the cookie key ring: cookie.keys (base64 AES-256 keys, the first
// seals) or the keys in cookie.key_file, one per line.
func (c *Config) Ring() (*seal.Ring, error) {
	keys := c.Cookie.Keys
	if c.Cookie.KeyFile != "" {
		if len(keys) > 0 {
			return nil, errors.New("give cookie.keys or cookie.key_file, not both")
		}
		b, err := os.ReadFile(c.Cookie.KeyFile)
		if err != nil {
			return nil, err
		}
		keys = strings.Fields(string(b))
	}
	if len(keys) == 0 {
		return nil, errors.New("at least one key is required: 32 random bytes in base64 (openssl rand -base64 32)")
	}
	raw, err := seal.ParseKeys(strings.Join(keys, ","))
	if err != nil {
		return nil, err
	}
	return seal.NewRing(raw...)
}

// ValidDomain reports whether s looks like a customer domain (R-BFF-2): a
// DNS name of at least three labels of a-z, 0-9 and '-' (not at either end),
// the last of 2 to 63 letters.
func ValidDomain(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 3 {
		return false
	}
	for i, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		last := i == len(labels)-1
		if last && len(l) < 2 {
			return false
		}
		for j := 0; j < len(l); j++ {
			c := l[j]
			switch {
			case c >= 'a' && c <= 'z':
			case !last && (c >= '0' && c <= '9' || c == '-'):
			default:
				return false
			}
		}
	}
	return true
}
