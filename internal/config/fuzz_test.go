package config

import (
	"testing"
)

// FuzzConfigFile: a config file is outside input too (an operator's typo, a
// generated file). Reading it never panics; a file that passes yields a
// configuration that validates again (issue 8 §6).
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"listen: 127.0.0.1:7000\nlog-level: warn\n",
		"database: postgres://u@db/gatehouse\ndb-max-conns: 8\n",
		"key-refresh-interval: 2s\nrevocation-refresh-interval: 500ms\n",
		"public-url: https://id.example.com\ntrusted-proxies: 10.0.0.0/8\n",
		"login-lockout-threshold: -1\n",
		"max-apps-per-tenant: 1e9\n",
		"config: other.yaml\n",
		"{listen: [1, 2]}\n",
		"- a\n- b\n",
		"listen: &a x\nlog-level: *a\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		if file == "" {
			return
		}
		c, err := parse(t, nil, nil, file)
		if err != nil {
			return
		}
		again := c
		if err := again.Validate(); err != nil {
			t.Fatalf("a configuration that passed fails again: %v\n%s", err, file)
		}
	})
}
