// Package outbound makes the calls of HTTP integrations (SPEC §8, seed 000):
// {public}/t/{tenant}/integrations/{name}/call/{path} with any method,
// authorized by a bearer access token of the tenant with the scope
// integration:{name} (integration:{name}:write for methods that change
// something), is forwarded to the integration's base URL + path with the
// credentials Gatehouse holds (R-INT-2), under its rate limit (R-INT-5),
// and the upstream's status, headers and body stream back (R-INT-4).
//
// The caller never reaches beyond the base URL (integration.CleanPath),
// never sets a credential or hop-by-hop header, and gets a clear error for
// what Gatehouse refuses; bodies both ways are bounded, and redirects are
// followed only within the base URL.
package outbound
