package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Helpers of the fault tests (issue 8 §4): a TCP proxy that can cut a
// database off, a round-robin HTTP load balancer, and real `gatehouse
// serve` processes of the built binary.

// tcpFault forwards a loopback port to a target address until cut: then it
// closes every connection and refuses new ones, as a database that
// restarts does, until restore.
type tcpFault struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]struct{}
}

func newTCPFault(t *testing.T, target string) *tcpFault {
	t.Helper()
	f := &tcpFault{t: t, target: target, conns: map[net.Conn]struct{}{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	f.serve(ln)
	t.Cleanup(f.cut)
	return f
}

func (f *tcpFault) serve(ln net.Listener) {
	f.mu.Lock()
	f.ln = ln
	f.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.pipe(c)
		}
	}()
}

func (f *tcpFault) pipe(c net.Conn) {
	up, err := net.DialTimeout("tcp", f.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	f.mu.Lock()
	if f.ln == nil {
		f.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	f.conns[c], f.conns[up] = struct{}{}, struct{}{}
	f.mu.Unlock()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(up, c)
	go cp(c, up)
	<-done
	c.Close()
	up.Close()
	f.mu.Lock()
	delete(f.conns, c)
	delete(f.conns, up)
	f.mu.Unlock()
}

// cut closes the listener and every connection through it.
func (f *tcpFault) cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ln != nil {
		f.ln.Close()
		f.ln = nil
	}
	for c := range f.conns {
		c.Close()
		delete(f.conns, c)
	}
}

// restore listens again on the same port.
func (f *tcpFault) restore() {
	f.t.Helper()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		f.t.Fatalf("restore the database proxy on %s: %v", f.addr, err)
	}
	f.serve(ln)
}

// proxiedDSN is dsn with its host replaced by addr.
func proxiedDSN(t *testing.T, dsn, addr string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// balancer is a round-robin reverse proxy over replicas, as a load balancer
// with passive health checks: a replica that refuses a connection is taken
// out of the rotation and the request gets 502, which the client retries.
type balancer struct {
	URL      string
	backends []*url.URL
	down     []atomic.Bool
	next     atomic.Uint64
	mu       sync.Mutex
	served   []int // index of the replica of each request, in order
	failed   atomic.Int64
	proxy    *httputil.ReverseProxy
}

type backendKey struct{}

func newBalancer(t *testing.T) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{URL: "http://" + ln.Addr().String()}
	b.proxy = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			i := r.In.Context().Value(backendKey{}).(int)
			r.SetURL(b.backends[i])
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext, MaxIdleConnsPerHost: 16},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			b.failed.Add(1)
			if errors.Is(err, syscall.ECONNREFUSED) {
				b.down[r.Context().Value(backendKey{}).(int)].Store(true)
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return b
}

// add puts a replica at base into the rotation.
func (b *balancer) add(t *testing.T, base string) {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = append(b.backends, u)
	b.down = make([]atomic.Bool, len(b.backends))
}

func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	n := len(b.backends)
	i := -1
	for range n {
		c := int(b.next.Add(1) % uint64(n))
		if !b.down[c].Load() {
			i = c
			break
		}
	}
	if i >= 0 {
		b.served = append(b.served, i)
	}
	b.mu.Unlock()
	if i < 0 {
		http.Error(w, "no replica", http.StatusServiceUnavailable)
		return
	}
	b.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, i)))
}

// since returns the replicas that served the requests after the first n.
func (b *balancer) since(n int) []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.served[n:]...)
}

func (b *balancer) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.served)
}

var buildOnce struct {
	sync.Once
	bin string
	err error
	out []byte
}

// gatehouseBinary builds cmd/gatehouse once per test binary.
func gatehouseBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-fault-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.bin = filepath.Join(dir, "gatehouse")
		buildOnce.out, buildOnce.err = exec.Command("go", "build", "-o", buildOnce.bin, "../../cmd/gatehouse").CombinedOutput()
	})
	if buildOnce.err != nil {
		t.Fatalf("build: %v\n%s", buildOnce.err, buildOnce.out)
	}
	return buildOnce.bin
}

// process is one `gatehouse serve` of the built binary.
type process struct {
	URL  string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{}
}

// serveProcess starts `gatehouse serve` with args on a free loopback port
// and waits until it listens.
func serveProcess(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(gatehouseBinary(t), append([]string{"serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.Env = append(os.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("replica %s log:\n%s", p.URL, tail(p.logs.String(), 4000))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, rest, ok := strings.Cut(p.logs.String(), `"msg":"gatehouse is listening","address":"`); ok {
			addr, _, _ := strings.Cut(rest, `"`)
			p.URL = "http://" + addr
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("gatehouse serve exited: %s", p.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("gatehouse serve did not listen within 30 s:\n%s", p.logs.String())
	return nil
}

// kill sends SIGKILL and waits for the process to end.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
