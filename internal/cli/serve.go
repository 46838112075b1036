package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gatehouse-id/gatehouse/internal/config"
	"github.com/gatehouse-id/gatehouse/internal/server"
)

func configFlags(cmd *cobra.Command, g *globals) (*config.Config, *string) {
	cfg := config.Default()
	cfg.Bind(cmd.Flags())
	path := cmd.Flags().String("config", "", "YAML or JSON file of settings (keys are flag names; env GATEHOUSE_CONFIG)")
	return &cfg, path
}

func loadConfig(cmd *cobra.Command, g *globals, cfg *config.Config, path *string) error {
	p := *path
	if p == "" {
		p = g.env.Getenv("GATEHOUSE_CONFIG")
	}
	if err := config.Resolve(cmd.Flags(), p, g.env.Getenv); err != nil {
		return err
	}
	cfg.DataDir = g.dataDir
	return cfg.Validate()
}

func newLogger(g *globals, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(g.env.Stderr, &slog.HandlerOptions{Level: l}))
}

func serveCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Gatehouse server (embedded database by default)",
		Args:  cobra.NoArgs,
	}
	cfg, path := configFlags(cmd, g)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := loadConfig(cmd, g, cfg, path); err != nil {
			return err
		}
		log := newLogger(g, cfg.LogLevel)
		if g.env.Getenv("GOGC") == "" {
			debug.SetGCPercent(cfg.GCPercent)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		s, err := server.New(ctx, *cfg, log, g.env.Getenv)
		if err != nil {
			return err
		}
		defer s.Close()
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return err
		}
		if cfg.DebugListen != "" {
			if err := server.ServeDebug(ctx, cfg.DebugListen, log); err != nil {
				return err
			}
		}
		var metrics chan error
		if cfg.MetricsListen != "" {
			mln, err := net.Listen("tcp", cfg.MetricsListen)
			if err != nil {
				ln.Close()
				return fmt.Errorf("--metrics-listen: %w", err)
			}
			metrics = make(chan error, 1)
			go func() { metrics <- s.ServeMetrics(ctx, mln) }()
			log.Info("serving metrics", "address", mln.Addr().String(), "path", "/metrics")
		}
		log.Info("gatehouse is listening", "address", ln.Addr().String(), "public_url", cfg.PublicURL, "database", s.DatabaseName(),
			"admin_api", cfg.PublicURL+"/admin/v1/openapi.yaml", "admin_credentials", cfg.AdminFile)
		err = s.Serve(ctx, ln)
		if metrics != nil {
			stop()
			if merr := <-metrics; err == nil {
				err = merr
			}
		}
		return err
	}
	return cmd
}

func migrateCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database migrations and exit (serve also migrates on start)",
		Args:  cobra.NoArgs,
	}
	cfg, path := configFlags(cmd, g)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := loadConfig(cmd, g, cfg, path); err != nil {
			return err
		}
		ring, err := server.MasterKeys(*cfg, newLogger(g, cfg.LogLevel), g.env.Getenv)
		if err != nil {
			return err
		}
		db, err := server.OpenStore(context.WithoutCancel(cmd.Context()), *cfg, ring)
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.Migrate(cmd.Context()); err != nil {
			return err
		}
		_, err = fmt.Fprintln(cmd.OutOrStdout(), "migrations applied")
		return err
	}
	return cmd
}
