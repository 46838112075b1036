-- +goose Up
-- The token-management service's sessions, when its session.store is set
-- (issue 10): one row per signed-in browser, so that an operator can end
-- sessions on the server (gatehouse bff revoke). The tokens stay in the
-- browser's encrypted cookies; a row holds no secret: id is the SHA-256 of
-- the session ID in the cookie. service is the BFF's public URL, so that
-- several services can share one database without seeing each other's
-- sessions. expires_at is the end of the idle timeout; the service's
-- janitor deletes rows past it.
CREATE TABLE bff_sessions (
    service    TEXT NOT NULL,
    id         TEXT NOT NULL,
    subject    TEXT NOT NULL,
    domain     TEXT NOT NULL,
    issuer     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (service, id)
);
CREATE INDEX bff_sessions_by_subject ON bff_sessions (service, subject);
CREATE INDEX bff_sessions_expiry ON bff_sessions (expires_at);

-- +goose Down
DROP TABLE bff_sessions;
