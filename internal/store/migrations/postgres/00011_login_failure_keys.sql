-- +goose Up
-- The brute-force counters were keyed by the plain SHA-256 of the typed
-- login ("login:…"), which a dictionary reverses (people type passwords
-- into the username field). They are now keyed by an HMAC under a server
-- key ("account:…", "name:…"; issue 8 §7): the old rows go, and with them
-- the counts and lockouts in progress at the upgrade.
DELETE FROM login_failures WHERE subject LIKE 'login:%';

-- +goose Down
SELECT 1;
