package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/internal/bff"
)

// bffCmd runs the token-management service (R-BFF-1): its own HTTP
// service, configured by one file.
func bffCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bff --config FILE",
		Short: "Run the token-management service (backend for frontend) of a browser or native front end",
		Args:  cobra.NoArgs,
	}
	path := cmd.Flags().String("config", "", "the service's YAML or JSON configuration (docs/bff.md); required")
	level := cmd.Flags().String("log-level", "info", "debug, info, warn or error")
	gc := cmd.Flags().Int("gc-percent", 400, "Go GC target (as serve's --gc-percent: fewer collections for a little more memory); GOGC, when set, wins")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *path == "" {
			return errors.New("--config is required")
		}
		cfg, err := bff.LoadConfig(*path, g.env.Getenv)
		if err != nil {
			return err
		}
		log := newLogger(g, *level)
		if g.env.Getenv("GOGC") == "" {
			debug.SetGCPercent(*gc)
		}
		svc, err := bff.New(cfg, nil, log)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
		errc := make(chan error, 1)
		go func() { errc <- hs.Serve(ln) }()
		log.Info("gatehouse bff is listening", "address", ln.Addr().String(), "public_url", cfg.PublicURL, "domains", len(cfg.Domains))
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	}
	return cmd
}
