-- +goose Up
-- Brute-force protection of sign-ins (R-OID-6, R-OID-9): failed attempts
-- counted per tenant and subject, where a subject is a login name (stored as
-- a hash: people type passwords into the username field) or a client
-- address. Every replica reads and writes the same rows, so the limits hold
-- across replicas (R-RUN-2). Rows expire; expires_at bounds the table.
CREATE TABLE login_failures (
    tenant_id  TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    subject    TEXT NOT NULL,
    failures   BIGINT NOT NULL,
    last_at    BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subject)
);
CREATE INDEX login_failures_expiry ON login_failures (expires_at);

-- +goose Down
DROP TABLE login_failures;
