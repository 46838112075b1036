-- +goose Up
-- Users, roles and their links (R-USR-1, R-ROL-1). username_lower and
-- email_lower are the case-insensitive keys; the original spelling is kept.
CREATE TABLE users (
    tenant_id           TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    id                  TEXT NOT NULL,
    username            TEXT NOT NULL,
    username_lower      TEXT NOT NULL,
    email               TEXT NOT NULL,
    email_lower         TEXT NOT NULL,
    email_verified      INTEGER NOT NULL DEFAULT 0,
    given_name          TEXT NOT NULL DEFAULT '',
    family_name         TEXT NOT NULL DEFAULT '',
    groups_json         TEXT NOT NULL DEFAULT '[]',
    state               TEXT NOT NULL,
    blocked_at          INTEGER NOT NULL DEFAULT 0,
    password_hash       TEXT NOT NULL DEFAULT '',
    password_changed_at INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT users_username_key UNIQUE (tenant_id, username_lower),
    CONSTRAINT users_email_key UNIQUE (tenant_id, email_lower)
);

CREATE TABLE roles (
    tenant_id   TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

-- R-PRM-2: deleting a permission (or its app) removes it from every role;
-- renaming it renames the grant.
CREATE TABLE role_permissions (
    tenant_id  TEXT NOT NULL,
    role_name  TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (tenant_id, role_name, client_id, permission),
    FOREIGN KEY (tenant_id, role_name) REFERENCES roles (tenant_id, name) ON DELETE CASCADE ON UPDATE CASCADE,
    FOREIGN KEY (tenant_id, client_id, permission) REFERENCES permissions (tenant_id, client_id, name) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX role_permissions_by_permission ON role_permissions (tenant_id, client_id, permission);

CREATE TABLE user_roles (
    tenant_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    role_name TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_name),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, role_name) REFERENCES roles (tenant_id, name) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX user_roles_by_role ON user_roles (tenant_id, role_name);

-- +goose Down
DROP TABLE user_roles;
DROP TABLE role_permissions;
DROP TABLE roles;
DROP TABLE users;
