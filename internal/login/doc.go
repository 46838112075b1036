// Package login serves the pages where end users sign in to a tenant and
// allow third-party applications access, and keeps their single sign-on
// session (R-OID-9, R-OID-10, R-USR-2, R-APP-10):
//
//   - GET/POST /t/{tenant}/login: the sign-in form. With ?request={id} (a
//     stored grant.Request of the authorization endpoint) it continues that
//     request at /t/{tenant}/oauth/authorize/resume; without, it ends on a
//     "you are signed in" page.
//   - GET/POST /t/{tenant}/consent?request={id}: the consent form of
//     third-party apps; the authorization endpoint decides when to show it.
//   - GET /t/{tenant}/static/{file}: the stylesheet and the tenant's theme.
//
// The SSO session is a row of grant.Session and a cookie per tenant
// (__Host-gatehouse-{tenant}: Secure, HttpOnly, Path=/, SameSite=Lax) that
// holds a 256-bit random secret; the store keeps only its SHA-256 hash.
// Session reports the browser's valid session to the protocol packages
// (not expired, user still active: a blocked user's session ends at once).
//
// Forms are protected twice against cross-site request forgery: Go's
// http.CrossOriginProtection (Sec-Fetch-Site / Origin) and a hidden token,
// an HMAC over tenant, request ID and a random nonce kept in a short-lived
// HttpOnly cookie. Pages are sent with Cache-Control: no-store, a
// Content-Security-Policy without scripts, and X-Frame-Options: DENY.
//
// Limiter is the brute-force protection of the login page and the password
// grant (R-OID-6): growing delays per login and per client address, and a
// lockout per login after repeated failures, kept in the database so that
// every replica sees the same counts. It keys on the login name typed, never
// on whether such a user exists, so its answers do not reveal users.
package login
