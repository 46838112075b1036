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
	"github.com/gatehouse-id/gatehouse/internal/server"
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
		cfg, err := loadBFFConfig(g, *path)
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
		if cfg.Session.Store != "" {
			st, err := openBFFSessions(ctx, cfg)
			if err != nil {
				return err
			}
			defer st.Close()
			svc.Sessions = st
			go st.RunJanitor(ctx, time.Minute, log)
		}
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
	cmd.AddCommand(bffSessionsCmd(g), bffRevokeCmd(g))
	return cmd
}

// openBFFSessions opens the session store of a config that has one.
func openBFFSessions(ctx context.Context, cfg *bff.Config) (*server.BFFSessions, error) {
	if cfg.Session.Store == "" {
		return nil, errors.New("session.store is not set: this service keeps its sessions in the cookies alone, and has none to list or revoke")
	}
	ring, err := cfg.Ring()
	if err != nil {
		return nil, err
	}
	return server.OpenBFFSessions(ctx, cfg.Session.Store, cfg.PublicURL, ring)
}

// loadBFFConfig loads and checks the service's config file (--config).
func loadBFFConfig(g *globals, path string) (*bff.Config, error) {
	if path == "" {
		return nil, errors.New("--config is required")
	}
	return bff.LoadConfig(path, g.env.Getenv)
}

// bffStore loads the config at path and opens its session store.
func bffStore(cmd *cobra.Command, g *globals, path string) (*server.BFFSessions, error) {
	cfg, err := loadBFFConfig(g, path)
	if err != nil {
		return nil, err
	}
	return openBFFSessions(cmd.Context(), cfg)
}

// bffSessionsCmd lists the service's server-side sessions (session.store).
func bffSessionsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sessions --config FILE [--subject SUB]",
		Short: "List the token-management service's live sessions (needs session.store)",
		Args:  cobra.NoArgs,
	}
	path := cmd.Flags().String("config", "", "the service's configuration; required")
	subject := cmd.Flags().String("subject", "", "only the sessions of this user (the ID token's sub)")
	limit := cmd.Flags().Int("limit", 100, "at most this many, newest first (1-1000)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *limit < 1 || *limit > 1000 {
			return errors.New("--limit must be between 1 and 1000")
		}
		st, err := bffStore(cmd, g, *path)
		if err != nil {
			return err
		}
		defer st.Close()
		list, err := st.List(cmd.Context(), *subject, *limit)
		if err != nil {
			return err
		}
		type item struct {
			ID        string    `json:"id"`
			Subject   string    `json:"subject"`
			Domain    string    `json:"domain"`
			Issuer    string    `json:"issuer"`
			CreatedAt time.Time `json:"created_at"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		out := struct {
			Items []item `json:"items"`
		}{Items: []item{}}
		for _, s := range list {
			out.Items = append(out.Items, item{s.ID, s.Subject, s.Domain, s.Issuer, s.Created.UTC(), s.Expires.UTC()})
		}
		return g.print(cmd, out, showList("id", "subject", "domain", "created_at", "expires_at"))
	}
	return cmd
}

// bffRevokeCmd ends server-side sessions: the browser's next call finds
// itself logged out.
func bffRevokeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "revoke --config FILE (--session ID | --subject SUB | --all)",
		Short: "End token-management sessions on the server (needs session.store)",
		Long: "End token-management sessions on the server: the browser's next CheckSession or RetrieveAccessToken finds it logged out.\n" +
			"The provider's refresh token is not revoked (it stays sealed in the browser's cookie, of no use without the service);\n" +
			"to end the user's grants at the provider as well, do it there (for Gatehouse: gatehouse user block).",
		Args: cobra.NoArgs,
	}
	path := cmd.Flags().String("config", "", "the service's configuration; required")
	id := cmd.Flags().String("session", "", "the session's ID, as gatehouse bff sessions lists it")
	subject := cmd.Flags().String("subject", "", "every session of this user (the ID token's sub)")
	all := cmd.Flags().Bool("all", false, "every session of the service")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		n := 0
		for _, set := range []bool{*id != "", *subject != "", *all} {
			if set {
				n++
			}
		}
		if n != 1 {
			return errors.New("give exactly one of --session, --subject and --all")
		}
		st, err := bffStore(cmd, g, *path)
		if err != nil {
			return err
		}
		defer st.Close()
		count, err := st.Revoke(cmd.Context(), *id, *subject)
		if err != nil {
			return err
		}
		return g.print(cmd, map[string]int64{"revoked": count}, showFields("revoked"))
	}
	return cmd
}
