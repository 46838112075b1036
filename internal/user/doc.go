// Package user holds users, roles and password hashing: the people of a
// tenant and what they may do in its applications.
//
//   - R-USR-1: a user belongs to one tenant and has a generated, stable ID, a
//     username and an email (each unique in the tenant, case-insensitively),
//     given and family names, external groups, a password hashed with
//     argon2id (RFC 9106) in the PHC string format, and a state.
//   - R-USR-2: blocking is a state in the user's row, read on every login and
//     token exchange, so it takes effect at once; BlockedAt records when.
//   - R-ROL-1: a role bundles permissions of one or more apps of the tenant and
//     is assigned to users; Access computes what a token for one app carries
//     (the claims roles and permissions, R-CLM-1).
//   - R-PRM-2: a role refers to permissions by (client ID, name); the store
//     drops the reference when the permission is deleted and follows a rename.
//
// The package knows apps only by client ID: it imports no other domain
// package but tenant.
package user
