// A real OpenID provider for Warden's end-to-end tests: the certified `oidc-provider` package, on
// 127.0.0.1, with one confidential client that gets JWT access tokens by the client_credentials grant.
//
//   node provider.mjs --port PORT --resource URI [--client-id ID] [--client-secret SECRET]
//
// Issuer: http://127.0.0.1:PORT (discovery at /.well-known/openid-configuration, keys at /jwks).
// Access tokens: ES256 JWTs, `aud` = the resource URI (RFC 8707), `scope` "mcp:tools", a `groups`
// claim ["support"], `kid` of the current signing key.
// Test control (not part of OIDC): POST /_test/rotate generates a new signing key, publishes it first
// in the JWKS (tokens are signed with it from now on) and keeps the previous keys published;
// it answers {"kid": NEW_KID}. GET /_test/kid answers the current signing kid.
// Prints "listening on http://127.0.0.1:PORT" once ready.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    resource: { type: 'string' },
    'client-id': { type: 'string', default: 'warden-e2e-agent' },
    'client-secret': { type: 'string', default: 'warden-e2e-secret' },
  },
});
if (!args.port || !args.resource) {
  console.error('usage: node provider.mjs --port PORT --resource URI');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${args.port}`;

function signingKey() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid: `es256-${randomUUID()}`, alg: 'ES256', use: 'sig' };
}

// Newest first: oidc-provider signs with the first key that fits the algorithm.
const keys = [signingKey()];

function buildProvider() {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: args['client-id'],
        client_secret: args['client-secret'],
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        scope: 'mcp:tools',
        // The only keys are ES256 ones (the default, RS256, would need an RSA key).
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys },
    scopes: ['mcp:tools'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => args.resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'mcp:tools',
          audience: args.resource,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    extraTokenClaims: () => ({ groups: ['support'] }),
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  return provider;
}

let callback = buildProvider().callback();

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/_test/rotate') {
    keys.unshift(signingKey());
    callback = buildProvider().callback();
    console.error(`rotated: signing with ${keys[0].kid}, publishing ${keys.map((k) => k.kid).join(', ')}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kid: keys[0].kid }));
    return;
  }
  if (req.method === 'GET' && req.url === '/_test/kid') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kid: keys[0].kid }));
    return;
  }
  console.error(`${req.method} ${req.url}`);
  callback(req, res);
});

server.listen(Number(args.port), '127.0.0.1', () => {
  console.log(`listening on ${issuer}`);
});
