// Package bff is the token-management service (R-BFF-1..3, seed 001): a
// backend for frontend that is the OpenID Connect client of a browser or
// native front end, so that the device never holds the client secret or a
// refresh token. It runs as `gatehouse bff --config FILE`, its own HTTP
// service, against any standard OIDC provider (Gatehouse or another).
//
// The user's tokens live in AES-256-GCM cookies sealed with the service's
// key ring (internal/seal: the key ID is in the value, so keys rotate
// without logging anyone out), HttpOnly, Secure with the __Host- prefix,
// each bound to its name by the associated data and carrying its own
// expiry, split over several cookies when longer than a browser keeps in
// one. Nothing about a session is stored on the server.
//
// This file set holds the configuration and the cookie codec; the endpoints
// of R-BFF-2 build on them (issue 10).
package bff
