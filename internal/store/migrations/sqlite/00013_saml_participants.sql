-- +goose Up
-- The SAML apps each SSO session signed in to, with the NameID each was
-- given, for single logout (issue 9, SAML Profiles §4.4). Rows live as long
-- as their session; the janitor deletes them after.
CREATE TABLE saml_participants (
    tenant_id      TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    sid            TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    name_id        TEXT NOT NULL,
    name_id_format TEXT NOT NULL,
    expires_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, sid, client_id)
);
CREATE INDEX saml_participants_expiry ON saml_participants (expires_at);

-- A LogoutRequest names the session by its SessionIndex, the sid: a POST
-- from the SP comes without the session cookie.
CREATE INDEX sessions_by_sid ON sessions (tenant_id, sid);

-- +goose Down
DROP INDEX sessions_by_sid;
DROP TABLE saml_participants;
