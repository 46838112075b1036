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
// With OP_FLOW=1 (bench/flow.sh) the same server also takes part in the
// user-flow benchmarks: code exchange, refresh, introspection. Then also:
//   OP_WEB_CLIENT_ID, OP_WEB_CLIENT_SECRET   a confidential web client
//                     (authorization_code + refresh_token, client_secret_basic)
//   OP_WEB_REDIRECT   its one redirect URI
//   OP_RS_CLIENT_ID, OP_RS_CLIENT_SECRET     a resource server that may only
//                     call the introspection endpoint
//   OP_MINT_SECRET    bearer secret of POST /bench/mint (see mint() below)
//   OP_ADAPTER        "memory" (default) or "redis": where the provider
//                     keeps its state; redis needs OP_REDIS_URL
//                     (redis://127.0.0.1:6379/N) and uses keys under
//                     OP_REDIS_PREFIX (default: a random one; redis_adapter.mjs)
// and the provider gets: a bigger in-memory store (the default keeps 1,000
// entries), an account model (one user, "alice"), the
// introspection endpoint, refresh token rotation on every use, and a second
// resource server whose tokens are opaque (oidc-provider refuses to introspect
// JWT access tokens: "Structured JWT Tokens cannot be introspected").
//
// Token endpoint: POST http://127.0.0.1:$OP_PORT/token
// Introspection (OP_FLOW=1): POST http://127.0.0.1:$OP_PORT/token/introspection
// Ready when GET /.well-known/openid-configuration answers 200.

import * as crypto from 'node:crypto';

import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

import { redisAdapter } from './redis_adapter.mjs';

const port = Number.parseInt(process.env.OP_PORT ?? '', 10);
const clientId = process.env.OP_CLIENT_ID;
const clientSecret = process.env.OP_CLIENT_SECRET;
if (!Number.isInteger(port) || port <= 0 || !clientId || !clientSecret) {
  console.error('usage: OP_PORT=N OP_CLIENT_ID=... OP_CLIENT_SECRET=... node server.mjs');
  process.exit(2);
}

const issuer = `http://127.0.0.1:${port}`;
const resource = 'urn:gatehouse-bench:api';
// Tokens for this resource are opaque: the ones oidc-provider can introspect.
const opaqueResource = 'urn:gatehouse-bench:opaque';

const flow = process.env.OP_FLOW === '1';
const web = {
  id: process.env.OP_WEB_CLIENT_ID,
  secret: process.env.OP_WEB_CLIENT_SECRET,
  redirect: process.env.OP_WEB_REDIRECT,
};
const rs = { id: process.env.OP_RS_CLIENT_ID, secret: process.env.OP_RS_CLIENT_SECRET };
const mintSecret = process.env.OP_MINT_SECRET;
// The one account of the flow benchmarks.
const accountId = 'alice';

// The default in-memory adapter keeps the last 1,000 entries only (an LRU:
// it is a development adapter); a benchmark holding tens of thousands of
// codes and grants needs it bigger. Same adapter class, same data structure.
const flowStore = flow ? new LRU({ maxSize: 1_000_000 }) : undefined;
if (flow && (!web.id || !web.secret || !web.redirect || !rs.id || !rs.secret || !mintSecret || mintSecret.length < 16)) {
  console.error('OP_FLOW=1 needs OP_WEB_CLIENT_ID, OP_WEB_CLIENT_SECRET, OP_WEB_REDIRECT, OP_RS_CLIENT_ID, OP_RS_CLIENT_SECRET and OP_MINT_SECRET (16+ characters)');
  process.exit(2);
}

// Where the flow benchmarks keep the provider's state: the (bigger)
// in-memory development adapter, or Redis as in production.
const adapterKind = process.env.OP_ADAPTER ?? 'memory';
let flowAdapter;
if (adapterKind === 'redis') {
  if (!process.env.OP_REDIS_URL) {
    console.error('OP_ADAPTER=redis needs OP_REDIS_URL');
    process.exit(2);
  }
  const RedisAdapter = redisAdapter(process.env.OP_REDIS_URL, process.env.OP_REDIS_PREFIX ?? `gatehouse-bench:${crypto.randomBytes(6).toString('hex')}:`);
  flowAdapter = (model) => new RedisAdapter(model);
} else if (adapterKind === 'memory') {
  flowAdapter = (model) => new MemoryAdapter(model, flowStore);
} else {
  console.error(`OP_ADAPTER must be memory or redis, not ${adapterKind}`);
  process.exit(2);
}

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
    ...(flow ? [
      {
        client_id: web.id,
        client_secret: web.secret,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [web.redirect],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'openid offline_access api',
      },
      {
        client_id: rs.id,
        client_secret: rs.secret,
        grant_types: [],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ] : []),
  ],
  scopes: flow ? ['openid', 'offline_access', 'api'] : ['api'],
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
    introspection: {
      enabled: flow,
      // Only the resource server may introspect (and any token of this
      // provider), like a Gatehouse s2s app.
      allowedPolicy: async (_ctx, client) => client.clientId === rs.id,
    },
    resourceIndicators: {
      enabled: true,
      // A client_credentials request without a resource parameter gets this
      // resource server, so every token is a JWT for it.
      defaultResource: async () => resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resourceIndicator) => {
        if (flow && resourceIndicator === opaqueResource) {
          return { scope: 'api', audience: opaqueResource, accessTokenTTL: 60 * 60, accessTokenFormat: 'opaque' };
        }
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
    AccessToken: 60 * 60,
    IdToken: 60 * 60,
    AuthorizationCode: 60,
    RefreshToken: 30 * 24 * 60 * 60,
    Grant: 30 * 24 * 60 * 60,
  },
  ...(flow ? {
    adapter: flowAdapter,
    // One account; its claims are what Gatehouse's ID token carries for
    // the scope openid (sub and the fixed claims).
    findAccount: async (_ctx, sub) => (sub === accountId ? {
      accountId: sub,
      claims: async () => ({ sub }),
    } : undefined),
    // Like Gatehouse (R-OID-3): every refresh returns a new refresh token.
    rotateRefreshToken: true,
  } : {}),
  // Keep the benchmark quiet: no per-request logging, errors only.
  renderError: async (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
};

const provider = new Provider(issuer, configuration);

// POST /bench/mint?kind=K&n=N, Authorization: Bearer $OP_MINT_SECRET
// (OP_FLOW=1 only) mints what a login would leave behind, through the
// provider's own models, so that the token endpoint can be loaded without
// driving interactions: kind=code (authorization codes for the web client,
// PKCE S256 with ?code_challenge=, openid offline_access + the JWT resource),
// kind=refresh (refresh tokens of such grants), kind=access (opaque access
// tokens of such a grant, for introspection). Answers a JSON array of token
// values. Only the benchmark calls it; nothing of it is on a hot path.
async function mint(ctx) {
  if (ctx.get('authorization') !== `Bearer ${mintSecret}`) {
    ctx.status = 401;
    return;
  }
  const kind = ctx.query.kind;
  const n = Number.parseInt(ctx.query.n ?? '1', 10);
  if (!['code', 'refresh', 'access'].includes(kind) || !Number.isInteger(n) || n < 1 || n > 10000) {
    ctx.status = 400;
    ctx.body = { error: 'kind must be code, refresh or access; 1 <= n <= 10000' };
    return;
  }
  const client = await provider.Client.find(web.id);
  // The resource's scope "api" is granted through grant.addResourceScope;
  // the code and refresh token carry it too, as an authorization request
  // for "openid offline_access api" would have made them.
  const scope = 'openid offline_access';
  const authTime = Math.floor(Date.now() / 1000);
  const out = [];
  for (let i = 0; i < n; i += 1) {
    const grant = new provider.Grant({ accountId, clientId: web.id });
    grant.addOIDCScope(scope);
    grant.addResourceScope(resource, 'api');
    const grantId = await grant.save();
    const common = {
      accountId, grantId, client, authTime, expiresWithSession: false,
    };
    let token;
    if (kind === 'code') {
      token = new provider.AuthorizationCode({
        ...common,
        scope: `${scope} api`,
        resource,
        redirectUri: web.redirect,
        codeChallenge: ctx.query.code_challenge,
        codeChallengeMethod: ctx.query.code_challenge ? 'S256' : undefined,
        nonce: 'n',
      });
    } else if (kind === 'refresh') {
      token = new provider.RefreshToken({
        ...common, scope: `${scope} api`, resource, gty: 'authorization_code', rotations: 0,
      });
    } else {
      token = new provider.AccessToken({ ...common, scope, gty: 'authorization_code' });
    }
    out.push(await token.save());
  }
  ctx.type = 'json';
  ctx.body = out;
}

if (flow) {
  provider.use(async (ctx, next) => {
    if (ctx.method === 'POST' && ctx.path === '/bench/mint') {
      await mint(ctx);
      return;
    }
    await next();
  });
}

provider.on('grant.error', (_ctx, err) => { if (process.env.OP_DEBUG) console.error('grant.error', err); });
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
