package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func parse(t *testing.T, args []string, env map[string]string, file string) (Config, error) {
	t.Helper()
	c := Default()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	c.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	path := ""
	if file != "" {
		path = filepath.Join(t.TempDir(), "gatehouse.yaml")
		if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := Resolve(fs, path, func(k string) string { return env[k] }); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Precedence: flag > environment > file > default.
func TestPrecedence(t *testing.T) {
	file := "listen: 127.0.0.1:7000\nlog-level: warn\nmax-apps-per-tenant: 10\nkey-refresh-interval: 2s\n"
	env := map[string]string{"GATEHOUSE_LOG_LEVEL": "error", "GATEHOUSE_MAX_APPS_PER_TENANT": "20"}
	c, err := parse(t, []string{"--max-apps-per-tenant", "30"}, env, file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:7000" || c.LogLevel != "error" || c.MaxApps != 30 || c.KeyRefreshInterval != 2*time.Second {
		t.Fatalf("got listen %q level %q apps %d refresh %v", c.Listen, c.LogLevel, c.MaxApps, c.KeyRefreshInterval)
	}
	if c.PublicURL != "http://localhost:7000" {
		t.Errorf("derived public URL %q", c.PublicURL)
	}
	if c.MasterKeyFile != filepath.Join("gatehouse-data", "master.key") || c.AdminFile != filepath.Join("gatehouse-data", "admin.json") {
		t.Errorf("derived files %q %q", c.MasterKeyFile, c.AdminFile)
	}
}

// Validate reports every problem at once, each naming its flag.
func TestValidateReportsEverything(t *testing.T) {
	_, err := parse(t, []string{
		"--listen", "nonsense", "--public-url", "ftp://x", "--database", "mysql://x",
		"--log-level", "loud", "--max-scopes-per-app", "0", "--client-secret-length", "8", "--shutdown-timeout", "0s",
	}, nil, "")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"--listen", "--public-url", "--database", "--log-level", "--max-scopes-per-app", "--client-secret-length", "--shutdown-timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestBadInputs(t *testing.T) {
	if _, err := parse(t, nil, nil, "colour: red\n"); err == nil || !strings.Contains(err.Error(), `unknown setting "colour"`) {
		t.Errorf("unknown file key: %v", err)
	}
	if _, err := parse(t, nil, map[string]string{"GATEHOUSE_MAX_APPS_PER_TENANT": "many"}, ""); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_MAX_APPS_PER_TENANT") {
		t.Errorf("bad env value: %v", err)
	}
	if _, err := parse(t, nil, nil, "listen: [1, 2\n"); err == nil {
		t.Error("malformed file accepted")
	}
	if c, err := parse(t, []string{"--public-url", "https://id.example.com/"}, nil, ""); err != nil || c.PublicURL != "https://id.example.com" {
		t.Errorf("trailing slash: %q %v", c.PublicURL, err)
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("max-apps-per-tenant"); got != "GATEHOUSE_MAX_APPS_PER_TENANT" {
		t.Fatal(got)
	}
}

// Issue 8 §7: metrics have their own listener, on loopback by default.
func TestMetricsListen(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		file string
		want string
	}{
		{nil, nil, "", "127.0.0.1:9464"},
		{nil, map[string]string{"GATEHOUSE_METRICS_LISTEN": "10.0.0.5:9100"}, "", "10.0.0.5:9100"},
		{nil, nil, "metrics-listen: \"\"\n", ""},
		{[]string{"--metrics-listen="}, map[string]string{"GATEHOUSE_METRICS_LISTEN": "10.0.0.5:9100"}, "", ""},
		{[]string{"--metrics-listen", "[::1]:9464"}, nil, "", "[::1]:9464"},
	} {
		c, err := parse(t, tc.args, tc.env, tc.file)
		if err != nil || c.MetricsListen != tc.want {
			t.Errorf("%v %v %q: got %q %v, want %q", tc.args, tc.env, tc.file, c.MetricsListen, err, tc.want)
		}
	}
	if _, err := parse(t, []string{"--metrics-listen", "9464"}, nil, ""); err == nil || !strings.Contains(err.Error(), "--metrics-listen") {
		t.Errorf("bad address: %v", err)
	}
}
