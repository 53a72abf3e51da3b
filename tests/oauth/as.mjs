// A real authorization server for tests/it/oauth.rs: oidc-provider (a certified OpenID
// provider) on 127.0.0.1, issuing access tokens for mymcp through the client credentials grant
// with resource indicators (RFC 8707), plus the few things a test needs around it.
//
//   node as.mjs                 prints {"issuer": "http://127.0.0.1:PORT"} once listening
//
// Clients: agent/agent-secret (JWT access tokens, ES256), opaque-agent/opaque-secret (opaque
// access tokens, checked by introspection), mymcp/mymcp-secret (the resource server's own
// credentials for the introspection endpoint). Scopes: mymcp:ro, mymcp:rw, other.
//
// Test-only routes next to the provider (not OAuth):
//   POST /test/rotate           a new signing key (new kid) is used from now on; the old key
//                               stays published
//   GET /test/stats             {"jwks_fetches": N, "introspections": M}: how often the key set
//                               was fetched and tokens introspected
//   POST /test/sign  {header?, claims, key?: "current"|"hs-public"|"unknown"}  a token signed
//                               with the provider's current key (or, for attacks, with HS256
//                               keyed by the public key, or by a key it never published)
// Separate issuers that misbehave, on the same port:
//   /bad/other-issuer           metadata naming another issuer
//   /bad/garbage                a jwks_uri answering garbage
//   /bad/hang                   a jwks_uri that never answers
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

// stdout carries the one line the test reads, then the test stops reading: everything the
// provider says goes to stderr.
console.log = console.info = console.warn = (...args) => console.error(...args);

const server = http.createServer();
// Longer than any pause in a test: a client must never reuse a connection Node just closed.
server.keepAliveTimeout = 120000;
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const issuer = `http://127.0.0.1:${server.address().port}`;

async function signingKey(kid) {
  const { privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  return { ...(await jose.exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
}
let keys = [await signingKey('k1')];
let generation = 1;
let jwksFetches = 0;
let introspections = 0;

function provider() {
  const p = new Provider(issuer, {
    clients: [
      { client_id: 'agent', client_secret: 'agent-secret', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], scope: 'mymcp:ro mymcp:rw other', id_token_signed_response_alg: 'ES256' },
      { client_id: 'opaque-agent', client_secret: 'opaque-secret', grant_types: ['client_credentials'], redirect_uris: [], response_types: [], scope: 'mymcp:ro mymcp:rw other', id_token_signed_response_alg: 'ES256' },
      { client_id: 'mymcp', client_secret: 'mymcp-secret', grant_types: [], redirect_uris: [], response_types: [], id_token_signed_response_alg: 'ES256' },
    ],
    scopes: ['mymcp:ro', 'mymcp:rw', 'other'],
    jwks: { keys },
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // Any resource may be asked for (the tests ask for a wrong one on purpose).
        getResourceServerInfo: (ctx, resource, client) => ({
          scope: 'mymcp:ro mymcp:rw other',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: client.clientId === 'opaque-agent' ? 'opaque' : 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  });
  return p.callback();
}
let handle = provider();

const send = (res, status, body, type = 'application/json') => {
  res.writeHead(status, { 'content-type': type });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};
const bodyOf = (req) => new Promise((resolve) => {
  let b = '';
  req.on('data', (c) => { b += c; });
  req.on('end', () => resolve(b ? JSON.parse(b) : {}));
});

async function sign({ header = {}, claims, key = 'current' }) {
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: issuer, iat: now, exp: now + 300, ...claims };
  if (key === 'hs-public') {
    // The attack: HS256 keyed with the bytes of the published public key.
    const pub = { ...keys[0] };
    delete pub.d;
    return new jose.SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: keys[0].kid, ...header })
      .sign(new TextEncoder().encode(JSON.stringify(pub)));
  }
  const jwk = key === 'unknown' ? await signingKey(keys[0].kid) : keys[0];
  const priv = await jose.importJWK(jwk, 'ES256');
  return new jose.SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'at+jwt', ...header }).sign(priv);
}

server.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname === '/test/rotate' && req.method === 'POST') {
      generation += 1;
      keys = [await signingKey(`k${generation}`), ...keys];
      handle = provider();
      return send(res, 200, { kid: keys[0].kid });
    }
    if (url.pathname === '/test/stats') return send(res, 200, { jwks_fetches: jwksFetches, introspections });
    if (url.pathname === '/jwks') jwksFetches += 1;
    if (url.pathname === '/token/introspection') introspections += 1;
    if (url.pathname === '/test/sign' && req.method === 'POST') {
      return send(res, 200, { token: await sign(await bodyOf(req)) });
    }
    const bad = url.pathname.match(/^\/bad\/([a-z-]+)(\/.*)?$/);
    if (bad) {
      const [, kind, rest = ''] = bad;
      const me = `${issuer}/bad/${kind}`;
      if (rest.startsWith('/.well-known/')) {
        return send(res, 200, {
          issuer: kind === 'other-issuer' ? 'https://somewhere.else.example' : me,
          jwks_uri: `${me}/jwks`,
          token_endpoint: `${me}/token`,
        });
      }
      if (rest === '/jwks' && kind === 'garbage') return send(res, 200, '<html>not json', 'text/html');
      if (rest === '/jwks' && kind === 'hang') return; // never answers
      return send(res, 404, { error: 'not_found' });
    }
    return handle(req, res);
  } catch (e) {
    return send(res, 500, { error: String(e) });
  }
});

process.stdout.write(`${JSON.stringify({ issuer })}\n`);
