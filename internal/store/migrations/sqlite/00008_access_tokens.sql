-- +goose Up
-- Opaque access tokens (R-OID-7: per app, instead of JWTs): the token is
-- 256-bit random and only its SHA-256 is kept, with the claims it stands
-- for. One indexed lookup answers introspection and UserInfo.
CREATE TABLE access_tokens (
    tenant_id  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    claims     TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, hash),
    FOREIGN KEY (tenant_id, client_id) REFERENCES apps (tenant_id, client_id) ON DELETE CASCADE
);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);

-- +goose Down
DROP TABLE access_tokens;
