// Package migrations embeds the forward-only schema migrations, one folder per
// SQL dialect, applied with goose.
package migrations

import "embed"

// SQLite holds the SQLite migrations under "sqlite".
//
//go:embed sqlite/*.sql
var SQLite embed.FS

// Postgres holds the PostgreSQL migrations under "postgres".
//
//go:embed postgres/*.sql
var Postgres embed.FS
