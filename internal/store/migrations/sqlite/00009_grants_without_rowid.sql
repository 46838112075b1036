-- +goose Up
-- The tables every code exchange and refresh writes become WITHOUT ROWID:
-- a row then lives in its primary-key b-tree alone instead of in a rowid
-- table plus a primary-key index, so each new row touches one b-tree (and
-- one WAL frame per commit) fewer. Their keys are time-ordered
-- (grant.NewOrderedID, grant.NewOrderedSecret), so new rows are appended.
--
-- Rebuilt in place with foreign keys on: the new tables are filled first,
-- the child (refresh_tokens) is dropped before its parent, so dropping the
-- old parent cascades to nothing, and renaming a table updates the foreign
-- keys that name it.
CREATE TABLE token_families_new (
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
) WITHOUT ROWID;
INSERT INTO token_families_new (tenant_id, id, client_id, user_id, sid, scope, auth_time, created_at, expires_at, revoked_at)
SELECT tenant_id, id, client_id, user_id, sid, scope, auth_time, created_at, expires_at, revoked_at FROM token_families;

CREATE TABLE refresh_tokens_new (
    tenant_id   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    family_id   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    rotated_at  INTEGER NOT NULL DEFAULT 0,
    next_sealed TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, hash),
    FOREIGN KEY (tenant_id, family_id) REFERENCES token_families_new (tenant_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
INSERT INTO refresh_tokens_new (tenant_id, hash, family_id, created_at, expires_at, rotated_at, next_sealed)
SELECT tenant_id, hash, family_id, created_at, expires_at, rotated_at, next_sealed FROM refresh_tokens;

CREATE TABLE auth_codes_new (
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
) WITHOUT ROWID;
INSERT INTO auth_codes_new (tenant_id, hash, client_id, user_id, sid, redirect_uri, scope, nonce, code_challenge, auth_time, created_at, expires_at, used_at, family_id)
SELECT tenant_id, hash, client_id, user_id, sid, redirect_uri, scope, nonce, code_challenge, auth_time, created_at, expires_at, used_at, family_id FROM auth_codes;

DROP TABLE refresh_tokens;
DROP TABLE token_families;
DROP TABLE auth_codes;
ALTER TABLE token_families_new RENAME TO token_families;
ALTER TABLE refresh_tokens_new RENAME TO refresh_tokens;
ALTER TABLE auth_codes_new RENAME TO auth_codes;

CREATE INDEX token_families_expiry ON token_families (expires_at);
CREATE INDEX token_families_by_user ON token_families (tenant_id, user_id);
CREATE INDEX token_families_by_sid ON token_families (tenant_id, sid);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_by_family ON refresh_tokens (tenant_id, family_id);
CREATE INDEX auth_codes_expiry ON auth_codes (expires_at);

-- +goose Down
-- The WITHOUT ROWID tables hold the same columns and keys; there is nothing
-- to take back that the code depends on.
SELECT 1;
