// Reference OAuth 2.0 server for the Gatehouse token-endpoint benchmark.
//
// node oidc-provider, configured as close to what Gatehouse does for an s2s
// app as it allows: one confidential client, client_credentials grant,
// client_secret_basic, scope "api", access tokens as JWT (RFC 9068) signed
// ES256 with a key generated at start-up (nothing secret is committed).
//
// Environment:
//   OP_PORT           port to listen on (127.0.0.1 only)           required
//   OP_CLIENT_ID      the client's id                               required
//   OP_CLIENT_SECRET  the client's secret                           required
//
// Token endpoint: POST http://127.0.0.1:$OP_PORT/token
// Ready when GET /.well-known/openid-configuration answers 200.

import * as crypto from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number.parseInt(process.env.OP_PORT ?? '', 10);
const clientId = process.env.OP_CLIENT_ID;
const clientSecret = process.env.OP_CLIENT_SECRET;
if (!Number.isInteger(port) || port <= 0 || !clientId || !clientSecret) {
  console.error('usage: OP_PORT=N OP_CLIENT_ID=... OP_CLIENT_SECRET=... node server.mjs');
  process.exit(2);
}

const issuer = `http://127.0.0.1:${port}`;
const resource = 'urn:gatehouse-bench:api';

// ES256 signing key, fresh for every run.
const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingJwk = {
  ...privateKey.export({ format: 'jwk' }),
  use: 'sig',
  alg: 'ES256',
  kid: crypto.randomBytes(8).toString('hex'),
};

const configuration = {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: 'api',
    },
  ],
  scopes: ['api'],
  jwks: { keys: [signingJwk] },
  // Only ES256 keys exist; make it the default for everything signed.
  clientDefaults: {
    grant_types: ['client_credentials'],
    response_types: [],
    id_token_signed_response_alg: 'ES256',
    token_endpoint_auth_method: 'client_secret_basic',
  },
  enabledJWA: {
    idTokenSigningAlgValues: ['ES256'],
  },
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // A client_credentials request without a resource parameter gets this
      // resource server, so every token is a JWT for it.
      defaultResource: async () => resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (resourceIndicator !== resource) {
          throw new Provider.errors.InvalidTarget();
        }
        return {
          scope: 'api',
          audience: resource,
          accessTokenTTL: 60 * 60,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  ttl: {
    ClientCredentials: 60 * 60,
  },
  // Keep the benchmark quiet: no per-request logging, errors only.
  renderError: async (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
};

const provider = new Provider(issuer, configuration);

provider.on('server_error', (_ctx, err) => {
  console.error('oidc-provider server_error:', err);
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
