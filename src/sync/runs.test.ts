import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { RunRepository } from '../store/types.js';
import { RunRecorder } from './runs.js';

describe('RunRecorder.change', () => {
  it("logs the record's id without an e-mail address or phone number in it (a Segment userId may be one)", () => {
    const lines: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const run = new RunRecorder(
      { store: {} as RunRepository, logger: pino({ level: 'debug' }, out), leaseMs: 1_000 },
      { connector: 'segment', kind: 'pull', trigger: 'manual' },
    );
    run.change('p1', ['firstName'], { ref: 'ada@example.com' });
    run.change('p2', ['firstName'], { ref: '+15550100123', created: true });
    run.change('p3', ['firstName'], { ref: '0031x00000AbCdE' });
    const refs = lines.map((l) => (JSON.parse(l) as { ref: string }).ref);
    expect(refs).toEqual(['<email>', '<phone>', '0031x00000AbCdE']);
  });
});
