// test/chaos imports this path; everything else imports harness/hub-config.ts, where the code lives.
export * from '../../harness/hub-config.js';
