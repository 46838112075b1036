-- +goose Up
-- SAML 2.0 and WS-Federation (issue 9, R-SML-1..3, R-WSF-1).

-- A tenant whose token keys are not RSA signs SAML with a line of RSA keys
-- of its own (keys.UseSAML); '' marks the token keys.
ALTER TABLE signing_keys ADD COLUMN key_use TEXT NOT NULL DEFAULT '';

-- The SP entity ID of a SAML app, the realm of a WS-Federation app: how an
-- AuthnRequest or a wsignin1.0 finds its app, unique per tenant and
-- protocol. Existing apps get theirs from their settings; where two
-- already share one, the older keeps it and the other must be changed
-- before it can be used (it is found by nobody until then).
ALTER TABLE apps ADD COLUMN entity_id TEXT;
UPDATE apps SET entity_id = CASE protocol WHEN 'saml' THEN (settings::jsonb -> 'saml' ->> 'entity_id') ELSE (settings::jsonb -> 'wsfed' ->> 'realm') END
WHERE protocol IN ('saml', 'wsfed') AND NOT EXISTS (
    SELECT 1 FROM apps o WHERE o.tenant_id = apps.tenant_id AND o.protocol = apps.protocol
      AND (o.created_at < apps.created_at OR (o.created_at = apps.created_at AND o.client_id < apps.client_id))
      AND CASE o.protocol WHEN 'saml' THEN (o.settings::jsonb -> 'saml' ->> 'entity_id') ELSE (o.settings::jsonb -> 'wsfed' ->> 'realm') END = CASE apps.protocol WHEN 'saml' THEN (apps.settings::jsonb -> 'saml' ->> 'entity_id') ELSE (apps.settings::jsonb -> 'wsfed' ->> 'realm') END);
CREATE UNIQUE INDEX apps_entity_id_key ON apps (tenant_id, protocol, entity_id) WHERE entity_id IS NOT NULL;

-- +goose Down
DROP INDEX apps_entity_id_key;
ALTER TABLE apps DROP COLUMN entity_id;
ALTER TABLE signing_keys DROP COLUMN key_use;
