/* global require, module */
// One signed webhook event per request, for scripts/bench-ingress.ts (autocannon worker threads
// load this file by path). Each event is new: a fresh event id, record and e-mail address.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- autocannon's worker threads require() this file
const { createHmac, randomUUID } = require('node:crypto');

const SECRET = 'test-webhook-secret-0123456789abcdef';

module.exports = function setupRequest(request) {
  const id = randomUUID();
  const now = new Date().toISOString();
  const body = JSON.stringify({
    eventId: `bench-${id}`,
    occurredAt: now,
    kind: 'changed',
    records: [
      {
        id: `rec-${id}`,
        modstamp: 1,
        updatedAt: now,
        fields: { email: `bench-${id}@example.com`, first_name: 'Bench', email_opt_out: false },
      },
    ],
  });
  const t = Date.now();
  const signature = createHmac('sha256', SECRET).update(`${t}.`).update(body).digest('hex');
  return { ...request, body, headers: { 'content-type': 'application/json', 'x-memory-signature': `t=${t},v1=${signature}` } };
};
