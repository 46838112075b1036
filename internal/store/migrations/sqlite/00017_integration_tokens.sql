-- +goose Up
-- OAuth 2.0 tokens of integrations (issue 11, R-INT-2, R-INT-3): the
-- service account's (subject '') and each user's for service actions,
-- shared by every replica. token is the JSON of the token (access token,
-- refresh token, expiry) sealed with the master key, bound to tenant,
-- integration and subject.
CREATE TABLE integration_tokens (
    tenant_id   TEXT NOT NULL,
    integration TEXT NOT NULL,
    subject     TEXT NOT NULL,
    token       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, integration, subject),
    FOREIGN KEY (tenant_id, integration) REFERENCES integrations (tenant_id, name) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE integration_tokens;
