// Package integration is the domain of outbound HTTP integrations (SPEC §8,
// seed 000): a tenant's connection to a third-party system of record by base
// URL, with the credentials Gatehouse adds to every call (R-INT-1, R-INT-2,
// R-INT-3), an optional rate limit (R-INT-5), an icon (R-INT-7), and export
// and import without secrets (R-INT-8). It holds the types, their rules and
// the Store each needs; no HTTP and no SQL. The calls themselves are made
// by the outbound package.
package integration
