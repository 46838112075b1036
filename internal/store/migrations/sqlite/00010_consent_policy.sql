-- +goose Up
-- A tenant's consent policy (R-OID-9, R-OID-10): 'remember' keeps a consent
-- until it is revoked, 'session' only for the SSO session (sid) it was
-- given in. Consents given before this migration carry no session.
ALTER TABLE tenants ADD COLUMN consent_policy TEXT NOT NULL DEFAULT 'remember';
ALTER TABLE consents ADD COLUMN sid TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE consents DROP COLUMN sid;
ALTER TABLE tenants DROP COLUMN consent_policy;
