// Runs graphql-http's auditServer (the GraphQL over HTTP conformance suite) against a live
// server and prints its results as one JSON array on stdout: [{id, name, status, reason}].
// Usage: node audit.js <url> [token]; graphql-http is resolved from NODE_PATH (the test
// installs this folder's package-lock.json into a temporary folder).
'use strict';

const { auditServer } = require('graphql-http');

async function main() {
  const [url, token] = process.argv.slice(2);
  if (!url) throw new Error('usage: node audit.js <url> [token]');
  // Every request as a signed-in user, as a client of the desk would send it.
  const fetchFn = (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (token) headers.set('authorization', `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  const results = await auditServer({ url, fetchFn });
  const shown = results.map((result) => ({
    id: result.id,
    name: result.name,
    status: result.status,
    reason: result.status === 'ok' ? null : result.reason,
  }));
  process.stdout.write(JSON.stringify(shown) + '\n');
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
