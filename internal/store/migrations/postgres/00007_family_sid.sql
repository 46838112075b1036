-- +goose Up
-- Logout finds the token families of an SSO session by its sid (R-OID-10).
CREATE INDEX token_families_by_sid ON token_families (tenant_id, sid);

-- +goose Down
DROP INDEX token_families_by_sid;
