package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLoginSettings: the session and brute-force settings, their defaults
// and their bounds.
func TestLoginSettings(t *testing.T) {
	c, err := parse(t, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.SessionLifetime != 12*time.Hour || c.LockoutThreshold != 10 || c.LockoutDuration != 15*time.Minute || len(c.TrustedProxies) != 0 {
		t.Errorf("defaults: %v %d %v %v", c.SessionLifetime, c.LockoutThreshold, c.LockoutDuration, c.TrustedProxies)
	}
	c, err = parse(t, []string{"--session-lifetime", "1h", "--lockout-threshold", "0", "--lockout-duration", "0s"},
		map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.7"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if c.SessionLifetime != time.Hour || c.LockoutThreshold != 0 || c.LockoutDuration != 0 || !slices.Equal(c.TrustedProxies, []string{"10.0.0.0/8", "192.0.2.7"}) {
		t.Errorf("set: %v %d %v %v", c.SessionLifetime, c.LockoutThreshold, c.LockoutDuration, c.TrustedProxies)
	}
	_, err = parse(t, []string{"--session-lifetime", "10s", "--lockout-threshold", "-1", "--lockout-duration", "-1m", "--trusted-proxies", "proxy.internal"}, nil, "")
	for _, want := range []string{"--session-lifetime", "--lockout-threshold", "--lockout-duration", "--trusted-proxies"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}
