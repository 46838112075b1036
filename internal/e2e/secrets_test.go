package e2e

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"net/http"
)

// R-KEY-4: after a session of work, neither the logs nor the database file
// hold a client secret, an access token, the master key or a private key.
func TestNoSecretsInLogsOrDatabase(t *testing.T) {
	inst := start(t, options{})
	inst.createTenant(t, "acme", "RS256")
	a := inst.createApp(t, "acme", "--type", "s2s", "--name", "svc", "--scope", "api")
	tok := tokenFor(t, inst.URL+"/t/acme/oauth/token", a.ClientID, a.ClientSecret, nil)
	postForm(t, inst.URL+"/t/acme/oauth/token", map[string][]string{"grant_type": {"client_credentials"}}, a.ClientID, "wrong-"+a.ClientSecret)
	var rot struct {
		ClientSecret string `json:"client_secret"`
	}
	inst.cliJSON(t, &rot, "app", "secret", "rotate", "--tenant", "acme", a.ClientID, "--grace", "1h")
	master, err := os.ReadFile(filepath.Join(inst.DataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"client secret":         a.ClientSecret,
		"rotated client secret": rot.ClientSecret,
		"access token":          tok,
		"access token payload":  strings.Split(tok, ".")[1],
		"master key":            strings.TrimSpace(string(master)),
	}
	logs := inst.Logs.String()
	if !strings.Contains(logs, `"path":"/t/acme/oauth/token"`) {
		t.Fatal("the debug log has no request lines: the test would prove nothing")
	}
	for what, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the log holds the %s", what)
		}
	}
	// Raw bytes of the database and its WAL.
	var db []byte
	for _, f := range []string{"gatehouse.db", "gatehouse.db-wal"} {
		b, err := os.ReadFile(filepath.Join(inst.DataDir, f))
		if err == nil {
			db = append(db, b...)
		}
	}
	if len(db) == 0 {
		t.Fatal("no database file found")
	}
	for what, s := range secrets {
		if bytes.Contains(db, []byte(s)) {
			t.Errorf("the database file holds the %s", what)
		}
	}
	if bytes.Contains(db, []byte("PRIVATE KEY")) {
		t.Error("the database file holds a PEM private key")
	}
	// A PKCS#8 RSA key starts with these DER bytes (SEQUENCE, version 0, rsaEncryption OID).
	if bytes.Contains(db, []byte{0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01}) {
		t.Error("the database file holds a DER private key")
	}
	// The public certificate is there, as it should be (sanity: the scan works).
	r := inst.api(t, inst.adminToken(t), "GET", "/admin/v1/tenants/acme/keys/certificate", nil)
	block, _ := pem.Decode([]byte(r.Raw))
	if block == nil {
		t.Fatalf("certificate download: %d %s", r.Status, r.Raw)
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(db, block.Bytes) {
		t.Error("the scan did not find the (public) certificate: it cannot be trusted to find secrets")
	}
	for _, f := range []string{"master.key", "admin.json", "gatehouse.db"} {
		st, err := os.Stat(filepath.Join(inst.DataDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
}

// R-RUN-1: the README's run command on a bare data dir: the binary starts on
// SQLite, /healthz answers, the log says where the admin credentials are,
// and SIGTERM shuts it down cleanly.
func TestBinaryServe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/gatehouse")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	var logs syncBuffer
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--public-url", "http://127.0.0.1", "--data-dir", dir)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.Env = append(os.Environ(), "GATEHOUSE_MASTER_KEY=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var addr, metricsAddr string
	deadline := time.Now().Add(15 * time.Second)
	for addr == "" && time.Now().Before(deadline) {
		for _, line := range strings.Split(logs.String(), "\n") {
			if i := strings.Index(line, `"address":"`); i >= 0 {
				a := strings.SplitN(line[i+len(`"address":"`):], `"`, 2)[0]
				if strings.Contains(line, `"msg":"serving metrics"`) {
					metricsAddr = a
				} else {
					addr = a
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if addr == "" || metricsAddr == "" {
		t.Fatalf("no listening line in the log:\n%s", logs.String())
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	// Issue 8 §7: metrics only on --metrics-listen, not on the main listener.
	checkMetrics(t, addr, metricsAddr)
	if want := `"msg":"admin credentials written","path":"` + filepath.Join(dir, "admin.json"); !strings.Contains(logs.String(), want) {
		t.Fatalf("the log does not say where the admin credentials are:\n%s", logs.String())
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit 10 s after SIGINT")
	}
}
