// test/chaos imports this path; everything else imports harness/sync-hub.ts, where the code lives.
export * from '../../../harness/sync-hub.js';
