-- +goose Up
-- Request counts of rate-limited integrations per window (issue 11,
-- R-INT-5), shared by every replica: key names the integration, start is
-- the window's start (Unix milliseconds). Rows of past windows are swept.
CREATE TABLE rate_windows (
    key   TEXT NOT NULL,
    start BIGINT NOT NULL,
    used  INTEGER NOT NULL,
    PRIMARY KEY (key, start)
);
CREATE INDEX rate_windows_start ON rate_windows (start);

-- +goose Down
DROP TABLE rate_windows;
