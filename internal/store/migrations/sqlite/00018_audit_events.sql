-- +goose Up
-- The audit log (issue 12, R-ADM-4): one row per admin change (written in
-- the change's own transaction) and per security event. No foreign key:
-- the log outlives what it tells of (a deleted tenant's rows stay until
-- the retention deletes them). id sorts by time.
CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY,
    at         INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    summary    TEXT NOT NULL,
    request_id TEXT NOT NULL
);
CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, id);
CREATE INDEX audit_events_by_time ON audit_events (at);

-- +goose Down
DROP TABLE audit_events;
