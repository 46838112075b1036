-- +goose Up
-- SQLite only (its 00009 rebuilds the grant tables WITHOUT ROWID); on
-- PostgreSQL a table's rows are not stored in a rowid b-tree, so there is
-- nothing to change. Kept so that both dialects number their schema alike.
SELECT 1;

-- +goose Down
SELECT 1;
