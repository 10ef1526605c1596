// test/chaos imports this path; everything else imports harness/db.ts, where the code lives.
export * from '../../harness/db.js';
