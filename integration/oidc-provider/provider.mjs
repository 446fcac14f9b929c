// A real OpenID provider for Warden's end-to-end tests: the certified `oidc-provider` package, on
// 127.0.0.1, with one confidential client that gets JWT access tokens by the client_credentials grant
// and, with --inbox-redirect, the approval inbox's client (authorization code + PKCE, ID tokens).
//
//   node provider.mjs --port PORT --resource URI [--client-id ID] [--client-secret SECRET]
//                     [--inbox-redirect URI [--inbox-client-id ID] [--inbox-client-secret SECRET]]
//
// Inbox sign-in: the development login and consent pages of oidc-provider (`devInteractions`: any
// login name, any password). The account's ID token carries `email` (LOGIN@example.com) and
// `groups`: ["approvers"] (scope `groups`), or ["support"] for logins starting with "support".
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

// Only the ready line goes to stdout (the test harness stops reading it then); oidc-provider's notices
// (console.info/console.log) go to stderr, the log, instead of failing on a closed pipe.
console.log = console.error;
console.info = console.error;

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    resource: { type: 'string' },
    'client-id': { type: 'string', default: 'warden-e2e-agent' },
    'client-secret': { type: 'string', default: 'warden-e2e-secret' },
    'inbox-redirect': { type: 'string' },
    'inbox-client-id': { type: 'string', default: 'warden-inbox' },
    'inbox-client-secret': { type: 'string', default: 'warden-inbox-secret' },
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

const clients = [
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
];
if (args['inbox-redirect']) {
  clients.push({
    client_id: args['inbox-client-id'],
    client_secret: args['inbox-client-secret'],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [args['inbox-redirect']],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  });
}

function account(id) {
  const groups = id.startsWith('support') ? ['support'] : ['approvers'];
  return { accountId: id, claims: () => ({ sub: id, email: `${id}@example.com`, groups }) };
}

function buildProvider() {
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys },
    scopes: ['openid', 'email', 'groups', 'mcp:tools'],
    claims: { openid: ['sub'], email: ['email'], groups: ['groups'] },
    // Put the scope's claims in the ID token of the code flow, not only in userinfo.
    conformIdTokenClaims: false,
    findAccount: (ctx, id) => account(id),
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: Boolean(args['inbox-redirect']) },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // The agent's client gets MCP tokens; the inbox's sign-in asks for no resource.
        defaultResource: (ctx, client) => (client.clientId === args['client-id'] ? args.resource : undefined),
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
  process.stdout.write(`listening on ${issuer}\n`);
});
