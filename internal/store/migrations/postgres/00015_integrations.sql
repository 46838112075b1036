-- +goose Up
-- HTTP integrations (issue 11, R-INT-1..9). config is the integration as
-- JSON without any secret; secrets is the JSON of its secrets sealed with
-- the master key (bound to tenant and name), never shown by the API.
CREATE TABLE integrations (
    tenant_id  TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    config     TEXT NOT NULL,
    secrets    TEXT NOT NULL,
    icon       TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- A tenant's custom icons (R-INT-7): id is the SHA-256 of the PNG. A
-- removed icon stays (integrations that name it keep showing it) but is no
-- longer offered.
CREATE TABLE integration_icons (
    tenant_id  TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    png        BYTEA NOT NULL,
    removed    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- +goose Down
DROP TABLE integration_icons;
DROP TABLE integrations;
