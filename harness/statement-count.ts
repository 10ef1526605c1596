/**
 * Counts the statements a store sends, for the store bench and the round-trip tests:
 * on PostgreSQL every `pg` client query (BEGIN and COMMIT included) is one network round
 * trip; on SQLite every executed statement (pragmas left out) is one call into the library.
 * Counting is process-wide while a counter is active; `stop()` puts the originals back.
 */
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';

export interface StatementCounter {
  /** Statements sent since the counter started (or since the last `reset`). */
  readonly count: number;
  /** The text of each statement counted, in order (for a failing test's message). */
  readonly texts: readonly string[];
  /** The values bound to each statement counted, in the same order as `texts`. */
  readonly parameters: readonly (readonly unknown[])[];
  reset(): void;
  stop(): void;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

function valuesOf(value: unknown): unknown[] {
  if (typeof value === 'object' && value !== null && 'values' in value && Array.isArray(value.values)) return value.values;
  return [];
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && 'text' in value && typeof value.text === 'string') return value.text;
  return '?';
}

/** Starts counting statements on both drivers. */
export function countStatements(): StatementCounter {
  const texts: string[] = [];
  const parameters: unknown[][] = [];
  const restore: (() => void)[] = [];
  const wrap = (
    target: Record<string, unknown>,
    name: string,
    text: (self: unknown, args: unknown[]) => string | undefined,
    values: (args: unknown[]) => unknown[],
  ): void => {
    const original = target[name] as Method;
    target[name] = function (this: unknown, ...args: unknown[]): unknown {
      const counted = text(this, args);
      if (counted !== undefined) {
        texts.push(counted);
        parameters.push(values(args));
      }
      return original.apply(this, args);
    };
    restore.push(() => {
      target[name] = original;
    });
  };
  wrap(
    pg.Client.prototype as unknown as Record<string, unknown>,
    'query',
    (_self, args) => textOf(args[0]),
    (args) => (Array.isArray(args[1]) ? args[1] : valuesOf(args[0])),
  );
  const probe = new BetterSqlite3(':memory:');
  const statementPrototype = Object.getPrototypeOf(probe.prepare('select 1')) as Record<string, unknown>;
  probe.close();
  const sqliteText = (self: unknown): string | undefined => {
    const source = textOf({ text: (self as { source?: unknown }).source });
    return /^\s*pragma\b/i.test(source) ? undefined : source;
  };
  for (const name of ['run', 'get', 'all', 'iterate']) wrap(statementPrototype, name, sqliteText, (args) => args);
  return {
    get count() {
      return texts.length;
    },
    texts,
    parameters,
    reset: () => {
      texts.length = 0;
      parameters.length = 0;
    },
    stop: () => {
      for (const undo of restore.reverse()) undo();
    },
  };
}
