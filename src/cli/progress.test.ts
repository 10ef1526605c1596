import { describe, expect, it } from 'vitest';
import type { CliIo, ProgressStream } from './io.js';
import { formatDuration, Progress, progressLine, progressStream } from './progress.js';

function fakeStream(isTTY: boolean, columns = 100): ProgressStream & { out: string } {
  const stream = {
    isTTY,
    columns,
    out: '',
    write(text: string) {
      stream.out += text;
      return true;
    },
  };
  return stream;
}

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('progress', () => {
  it('draws a bar with counts, rate and ETA in place on a terminal, and ends the line once', () => {
    const stream = fakeStream(true);
    const c = clock();
    const progress = new Progress(stream, { label: 'hubspot: pull', unit: 'records', now: c.now });
    c.advance(1_000);
    progress.update(25, 100);
    // Within the redraw interval: nothing drawn.
    c.advance(50);
    progress.update(26, 100);
    c.advance(1_000);
    progress.update(50, 100);
    progress.finish('100 records read');
    const frames = stream.out.split('\r').filter((f) => f !== '');
    expect(frames).toEqual([
      'hubspot: pull [######------------------] 25/100 records 25%, 25/s, ETA 3s\x1b[K',
      'hubspot: pull [############------------] 50/100 records 50%, 24/s, ETA 2s\x1b[K',
      'hubspot: pull 100 records read in 2s\x1b[K\n',
    ]);
    // No newline before the end: every frame overwrites the last.
    expect(stream.out.indexOf('\n')).toBe(stream.out.length - 1);
  });

  it('cuts the line to the terminal width', () => {
    const stream = fakeStream(true, 30);
    const c = clock();
    const progress = new Progress(stream, { label: 'salesforce: pull', unit: 'records', now: c.now });
    c.advance(500);
    progress.update(1, 10);
    expect(stream.out).toBe(`\r${'salesforce: pull [##'.padEnd(29, '-').slice(0, 29)}\x1b[K`);
  });

  it('writes plain lines elsewhere, at most one per interval and only when something changed', () => {
    const stream = fakeStream(false);
    const c = clock();
    const progress = new Progress(stream, { label: 'hubspot: pull', unit: 'records', now: c.now, plainEveryMs: 2_000 });
    c.advance(1_000);
    progress.update(10);
    c.advance(1_000);
    progress.update(20);
    c.advance(1_000);
    progress.update(30);
    progress.finish('30 records read');
    expect(stream.out).toBe(
      ['hubspot: pull 10 records, 10/s, 1s', 'hubspot: pull 30 records, 10/s, 3s', 'hubspot: pull 30 records read in 3s', ''].join('\n'),
    );
    expect(stream.out).not.toContain('\r');
    expect(stream.out).not.toContain('\x1b');
  });

  it('shows counts against a total without a bar in plain lines', () => {
    expect(progressLine('x', 'records', 3, 4, 3_000, false)).toBe('x 3/4 records 75%, 1.0/s, ETA 1s');
    expect(progressLine('x', 'records', 5, 4, 3_000, false)).toBe('x 5/4 records 100%, 1.7/s, done');
    expect(progressLine('x', 'records', 0, 4, 0, true)).toBe('x [------------------------] 0/4 records 0%, 0.0/s, ETA ?');
  });

  it('formats durations', () => {
    expect(formatDuration(400)).toBe('0s');
    expect(formatDuration(59_400)).toBe('59s');
    expect(formatDuration(75_000)).toBe('1m15s');
    expect(formatDuration(3_700_000)).toBe('1h01m');
  });

  it("falls back to plain lines on the io's standard error when it has no progress stream", () => {
    let err = '';
    const io: Pick<CliIo, 'writeErr'> = { writeErr: (text: string) => void (err += text) };
    const stream = progressStream(io);
    expect(stream.isTTY).toBe(false);
    new Progress(stream, { label: 'l', unit: 'u' }).finish('ok');
    expect(err).toMatch(/^l ok in 0s\n$/);
  });
});
