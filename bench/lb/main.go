// Command lb is the round-robin reverse proxy in front of the Gatehouse
// replicas of bench/run.sh and bench/flow.sh (BENCH_REPLICAS=3): each
// request goes to the next backend in turn, over keep-alive connections,
// as a load balancer without session affinity would send it. Standard
// library only; loopback only.
//
//	lb -listen 127.0.0.1:PORT -backends 127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
//
// The request's Host header is kept (the replicas' --public-url is the
// proxy's URL) and X-Forwarded-For is set to the client's address, so
// replicas started with --trusted-proxies 127.0.0.1 see the client's own
// address, as the login limiter needs. A backend that fails answers 502;
// there are no retries and no health checks: a benchmark must see failures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "lb:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (loopback)")
	backends := flag.String("backends", "", "comma-separated host:port of the replicas (loopback)")
	flag.Parse()

	if err := loopback(*listen); err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	var targets []*url.URL
	for b := range strings.SplitSeq(*backends, ",") {
		if b = strings.TrimSpace(b); b == "" {
			continue
		}
		if err := loopback(b); err != nil {
			return fmt.Errorf("-backends: %w", err)
		}
		targets = append(targets, &url.URL{Scheme: "http", Host: b})
	}
	if len(targets) == 0 {
		return errors.New("-backends: none given")
	}

	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(targets[(next.Add(1)-1)%uint64(len(targets))])
			r.Out.Host = r.In.Host
			r.SetXForwarded()
		},
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Printf("lb: %s %s: %v", r.Method, r.URL.Path, err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	log.Printf("lb: listening on %s, round robin over %d backends", ln.Addr(), len(targets))
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loopback refuses host:port addresses that are not a loopback IP.
func loopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback IP address", hostport)
	}
	return nil
}
