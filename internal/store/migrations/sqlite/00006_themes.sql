-- +goose Up
-- The look of a tenant's login and consent pages (R-OID-9): at most one
-- theme per tenant, the ui.Theme as JSON (empty values mean the default).
-- A tenant without a row uses the default theme.
CREATE TABLE tenant_themes (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (name) ON DELETE CASCADE,
    theme      TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- +goose Down
DROP TABLE tenant_themes;
