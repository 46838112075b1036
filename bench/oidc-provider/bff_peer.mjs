// A standard OpenID Connect provider (node oidc-provider, its development
// login and consent pages) as the second, non-Gatehouse peer of the
// token-management service's tests (internal/e2e/bff_peer_test.go, issue 10).
// Not for the benchmarks. Environment, all required:
//   OP_PORT           port (127.0.0.1 only)
//   OP_CLIENT_ID, OP_CLIENT_SECRET, OP_REDIRECT   the BFF's client
// Ready when GET /.well-known/openid-configuration answers 200.
import * as crypto from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number.parseInt(process.env.OP_PORT ?? '', 10);
const { OP_CLIENT_ID: id, OP_CLIENT_SECRET: secret, OP_REDIRECT: redirect } = process.env;
if (!Number.isInteger(port) || port <= 0 || !id || !secret || !redirect) {
  console.error('usage: OP_PORT=N OP_CLIENT_ID=... OP_CLIENT_SECRET=... OP_REDIRECT=... node bff_peer.mjs');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: id,
    client_secret: secret,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [redirect],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  scopes: ['openid', 'offline_access'],
  pkce: { required: () => true },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
  },
  // Any login is an account (the development login page takes any).
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  // A refresh token whenever offline_access is granted, with or without
  // prompt=consent; rotated on every use, like Gatehouse.
  issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
  rotateRefreshToken: true,
  ttl: { AccessToken: 120, IdToken: 120, AuthorizationCode: 60, RefreshToken: 3600, Grant: 3600, Session: 3600, Interaction: 600 },
});
provider.listen(port, '127.0.0.1');
