// A Redis adapter for oidc-provider, for bench/flow.sh with
// BENCH_OP_ADAPTER=redis: oidc-provider's state (codes, grants, refresh and
// opaque access tokens) in Redis, as its documentation recommends for
// production, instead of the in-memory development adapter. Written for the
// adapter interface oidc-provider documents (upsert, find, findByUid,
// findByUserCode, consume, destroy, revokeByGrantId).
//
// Keys live under a per-run prefix; every key gets the model's expiry, so a
// run leaves nothing behind for longer than its tokens live.

import Redis from 'ioredis';

// Models whose records carry a grantId, and are revoked with their grant.
const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);
// Models that are used once: kept as a hash so that consume() can mark them.
const consumable = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

export function redisAdapter(url, prefix) {
  const client = new Redis(url, { keyPrefix: prefix, lazyConnect: false, enableAutoPipelining: true });
  const grantKey = (id) => `grant:${id}`;
  const uidKey = (uid) => `uid:${uid}`;
  const userCodeKey = (code) => `userCode:${code}`;

  return class RedisAdapter {
    constructor(name) {
      this.name = name;
    }

    key(id) {
      return `${this.name}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      const multi = client.multi();
      if (consumable.has(this.name)) {
        multi.hset(key, { payload: JSON.stringify(payload) });
      } else {
        multi.set(key, JSON.stringify(payload));
      }
      if (expiresIn) {
        multi.expire(key, expiresIn);
      }
      if (grantable.has(this.name) && payload.grantId) {
        const gk = grantKey(payload.grantId);
        multi.rpush(gk, key);
        if (expiresIn) {
          // The grant's list lives as long as its longest-lived record.
          const ttl = await client.ttl(gk);
          if (expiresIn > ttl) {
            multi.expire(gk, expiresIn);
          }
        }
      }
      for (const [k, v] of [[payload.userCode && userCodeKey(payload.userCode), id], [payload.uid && uidKey(payload.uid), id]]) {
        if (k) {
          multi.set(k, v);
          if (expiresIn) {
            multi.expire(k, expiresIn);
          }
        }
      }
      await multi.exec();
    }

    async find(id) {
      const key = this.key(id);
      if (consumable.has(this.name)) {
        const h = await client.hgetall(key);
        if (!h || !h.payload) {
          return undefined;
        }
        const out = JSON.parse(h.payload);
        if (h.consumed) {
          out.consumed = Number(h.consumed);
        }
        return out;
      }
      const s = await client.get(key);
      return s ? JSON.parse(s) : undefined;
    }

    async findByUid(uid) {
      const id = await client.get(uidKey(uid));
      return id ? this.find(id) : undefined;
    }

    async findByUserCode(userCode) {
      const id = await client.get(userCodeKey(userCode));
      return id ? this.find(id) : undefined;
    }

    async consume(id) {
      await client.hset(this.key(id), 'consumed', Math.floor(Date.now() / 1000));
    }

    async destroy(id) {
      await client.del(this.key(id));
    }

    async revokeByGrantId(grantId) {
      const gk = grantKey(grantId);
      // The list holds keys without the run's prefix; del() adds it.
      const keys = await client.lrange(gk, 0, -1);
      const multi = client.multi();
      for (const k of keys) {
        multi.del(k);
      }
      multi.del(gk);
      await multi.exec();
    }
  };
}
