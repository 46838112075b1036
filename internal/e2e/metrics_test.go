package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// checkMetrics: /metrics on the main listener (addr) is a 404; on the
// metrics listener it is Prometheus text that counts the main listener's
// requests.
func checkMetrics(t *testing.T, addr, metricsAddr string) {
	t.Helper()
	get := func(u string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	if status, _, body := get("http://" + addr + "/healthz"); status != http.StatusOK {
		t.Fatalf("healthz: %d %s", status, body)
	}
	if status, _, body := get("http://" + addr + "/metrics"); status != http.StatusNotFound {
		t.Errorf("GET /metrics on the main listener: %d, want 404\n%.300s", status, body)
	}
	status, ct, body := get("http://" + metricsAddr + "/metrics")
	if status != http.StatusOK || !strings.HasPrefix(ct, "text/plain") ||
		!strings.Contains(body, "# TYPE gatehouse_http_request_duration_seconds histogram") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("GET /metrics on the metrics listener: %d %q\n%.500s", status, ct, body)
	}
	if status, _, _ := get("http://" + metricsAddr + "/healthz"); status != http.StatusNotFound {
		t.Errorf("the metrics listener serves more than /metrics: /healthz is %d", status)
	}
}

// Issue 8 §7: /metrics is served on --metrics-listen only.
func TestMetricsListener(t *testing.T) {
	inst := start(t, options{metrics: true})
	checkMetrics(t, strings.TrimPrefix(inst.URL, "http://"), inst.MetricsAddr)
}
