-- +goose Up
-- Names sort bytewise (COLLATE "C"), as on SQLite, whatever the database's
-- collation: cursor pagination depends on it.
CREATE TABLE tenants (
    name         TEXT COLLATE "C" PRIMARY KEY,
    display_name TEXT NOT NULL,
    signing_alg  TEXT NOT NULL,
    keys_version BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE apps (
    tenant_id  TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    type       TEXT NOT NULL,
    protocol   TEXT NOT NULL,
    settings   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id),
    CONSTRAINT apps_client_id_key UNIQUE (client_id),
    CONSTRAINT apps_name_key UNIQUE (tenant_id, name)
);

CREATE TABLE app_secrets (
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    hash       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, client_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES apps (tenant_id, client_id) ON DELETE CASCADE
);

CREATE TABLE permissions (
    tenant_id   TEXT NOT NULL,
    client_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, name),
    FOREIGN KEY (tenant_id, client_id) REFERENCES apps (tenant_id, client_id) ON DELETE CASCADE
);
CREATE INDEX permissions_by_update ON permissions (tenant_id, client_id, updated_at DESC);

CREATE TABLE signing_keys (
    tenant_id      TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    kid            TEXT NOT NULL,
    alg            TEXT NOT NULL,
    state          TEXT NOT NULL,
    private_sealed TEXT NOT NULL,
    cert_der       BYTEA NOT NULL,
    created_at     BIGINT NOT NULL,
    retire_at      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, kid)
);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE permissions;
DROP TABLE app_secrets;
DROP TABLE apps;
DROP TABLE tenants;
