-- +goose Up
-- What the OpenID Connect flows keep between requests (R-OID-2, R-OID-3,
-- R-OID-10). Secrets (codes, refresh tokens, session cookies) are stored as
-- SHA-256 hashes. Every row has an expiry; the janitor deletes expired rows
-- using the expires_at indexes. Deleting a user or an app deletes what was
-- issued to them (R-APP-11).
CREATE TABLE auth_requests (
    tenant_id  TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    params     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES apps (tenant_id, client_id) ON DELETE CASCADE
);
CREATE INDEX auth_requests_expiry ON auth_requests (expires_at);

CREATE TABLE sessions (
    tenant_id  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    sid        TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_user ON sessions (tenant_id, user_id);

CREATE TABLE auth_codes (
    tenant_id      TEXT NOT NULL,
    hash           TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    sid            TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    auth_time      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER NOT NULL DEFAULT 0,
    family_id      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, hash),
    FOREIGN KEY (tenant_id, client_id) REFERENCES apps (tenant_id, client_id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX auth_codes_expiry ON auth_codes (expires_at);

CREATE TABLE token_families (
    tenant_id  TEXT NOT NULL,
    id         TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    sid        TEXT NOT NULL,
    scope      TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, client_id) REFERENCES apps (tenant_id, client_id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX token_families_expiry ON token_families (expires_at);
CREATE INDEX token_families_by_user ON token_families (tenant_id, user_id);

CREATE TABLE refresh_tokens (
    tenant_id   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    family_id   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    rotated_at  INTEGER NOT NULL DEFAULT 0,
    next_sealed TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, hash),
    FOREIGN KEY (tenant_id, family_id) REFERENCES token_families (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (tenant_id, family_id);

CREATE TABLE consents (
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, client_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, client_id) REFERENCES apps (tenant_id, client_id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE consents;
DROP TABLE refresh_tokens;
DROP TABLE token_families;
DROP TABLE auth_codes;
DROP TABLE sessions;
DROP TABLE auth_requests;
