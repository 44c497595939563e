// A real OpenID Connect provider for the tests: the certified `oidc-provider`
// package, configured from a JSON file named by the first argument:
//   {"port": 0, "audience": "...", "jwks": {"keys": [private JWKs]},
//    "clients": [{"client_id", "client_secret", "claims": {...}, "ttl": 300, "alg": "RS256"}]}
// Clients use the client-credentials grant; access tokens are JWTs for the
// resource `audience`, carrying each client's `claims` (role, unit, name).
// Prints "listening <issuer>" once it accepts connections.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const byClient = Object.fromEntries(config.clients.map((c) => [c.client_id, c]));

const server = createServer();
await new Promise((resolve) => server.listen(config.port || 0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  jwks: config.jwks,
  clients: config.clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  })),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => config.audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource, client) => {
        if (resource !== config.audience) throw new Error(`unknown resource ${resource}`);
        const c = byClient[client.clientId] ?? {};
        return {
          scope: 'api',
          audience: config.audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: c.ttl ?? 300,
          jwt: { sign: { alg: c.alg ?? 'RS256' } },
        };
      },
    },
  },
  extraTokenClaims: (ctx, token) => byClient[token.clientId]?.claims ?? {},
});

server.on('request', provider.callback());
console.log(`listening ${issuer}`);
