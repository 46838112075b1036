-- +goose Up
-- JWT assertions seen (private_key_jwt, JWT bearer grant): a jti may be used
-- once per client until the assertion expires (R-OID-4, R-OID-5). id is the
-- hex SHA-256 of client_id, NUL, jti.
CREATE TABLE assertion_jtis (
    tenant_id  TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX assertion_jtis_expiry ON assertion_jtis (expires_at);

-- +goose Down
DROP TABLE assertion_jtis;
