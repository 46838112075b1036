-- +goose Up
-- Revoked JWT access tokens that belong to no token family (client
-- credentials, JWT bearer): their jti, kept until the token would have
-- expired, so that introspection and UserInfo refuse them at once (RFC 7009,
-- R-OID-1). Every replica keeps a copy in memory and reads the rows revoked
-- since its last look (revoked_at); the janitor deletes expired rows.
CREATE TABLE revoked_tokens (
    tenant_id  TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);
CREATE INDEX revoked_tokens_revoked ON revoked_tokens (revoked_at);

-- +goose Down
DROP TABLE revoked_tokens;
