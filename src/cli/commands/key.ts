/**
 * `concord key create --id <id> --scopes <s1,s2> [--previous <sha256> --until <date>] [--json]`:
 * a new admin API key (32 random bytes, base64url), printed once with the `hub.apiKeys` entry to
 * paste, which holds only its SHA-256 digest. `concord key hash` prints the digest of a key read
 * on standard input (an existing key, to move it from `key:` to `sha256:`). Rotation: see
 * docs/DEPLOY.md.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { ApiScope, CatalogId, PreviousApiKeyConfig } from '../../config/schema.js';
import { generateSecret } from '../../config/secret-policy.js';
import { sha256 } from '../../server/api-keys.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';

interface CreateOptions {
  id: string;
  scopes: ApiScope[];
  previous?: string;
  until?: string;
  json?: boolean;
}

/** `a,b` as a list of valid scopes; an unknown one is a usage error naming the valid ones. */
export function parseScopes(value: string): ApiScope[] {
  const scopes = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (scopes.length === 0) throw new InvalidArgumentError(`give at least one scope; valid scopes: ${ApiScope.options.join(', ')}`);
  return scopes.map((scope) => {
    const parsed = ApiScope.safeParse(scope);
    if (!parsed.success) throw new InvalidArgumentError(`unknown scope "${scope}"; valid scopes: ${ApiScope.options.join(', ')}`);
    return parsed.data;
  });
}

function parseId(value: string): string {
  const parsed = CatalogId.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? 'invalid id');
  return parsed.data;
}

/** The `hub.apiKeys` entry of a key, as YAML lines indented to paste under `apiKeys:`. */
export function apiKeyYaml(entry: { id: string; sha256: string; scopes: readonly ApiScope[]; previous?: PreviousApiKeyConfig }): string {
  const lines = [`    - id: ${entry.id}`, `      sha256: ${entry.sha256}`];
  if (entry.previous) lines.push('      previous:', `        sha256: ${entry.previous.sha256}`, `        until: ${entry.previous.until}`);
  lines.push(`      scopes: [${entry.scopes.join(', ')}]`);
  return lines.join('\n');
}

function create(io: CliIo, options: CreateOptions): void {
  if ((options.previous === undefined) !== (options.until === undefined)) {
    io.error('concord key create: --previous and --until go together (the old key is accepted until --until)');
    io.exit(2);
    return;
  }
  const previous =
    options.previous === undefined ? undefined : PreviousApiKeyConfig.safeParse({ sha256: options.previous, until: options.until });
  if (previous !== undefined && !previous.success) {
    const issues = previous.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`);
    io.error(`concord key create: ${issues.join('; ')}`);
    io.exit(2);
    return;
  }
  const key = generateSecret();
  const digest = sha256(key).toString('hex');
  const entry = { id: options.id, sha256: digest, scopes: options.scopes, ...(previous?.success ? { previous: previous.data } : {}) };
  const yaml = apiKeyYaml(entry);
  if (options.json === true) {
    io.log(JSON.stringify({ ...entry, key, yaml }));
  } else {
    io.log(key);
    io.log('');
    io.log('# under hub.apiKeys:');
    io.log(yaml);
  }
  io.error(
    `concord key create: this is the only time key "${options.id}" is shown; store it now (a secret manager), it is not kept anywhere.`,
  );
  io.error('The config holds only its SHA-256 digest; paste the entry under hub.apiKeys and roll the api processes.');
}

async function hash(io: CliIo): Promise<void> {
  const text = io.readStdin ? await io.readStdin() : '';
  const key = text.replace(/\r?\n$/, '');
  if (key === '' || /[\r\n]/.test(key)) {
    io.error('concord key hash: give exactly one key on standard input, e.g. printf %s "$KEY" | concord key hash');
    io.exit(2);
    return;
  }
  io.log(sha256(key).toString('hex'));
}

export function register(program: Command, io: CliIo = processIo): void {
  const key = program.command('key').description('admin API keys: make one, or hash an existing one (the config keeps only digests)');
  key
    .command('create')
    .description('print a new admin API key once, and the hub.apiKeys entry (its SHA-256 digest) to paste')
    .requiredOption('--id <id>', 'the key id, named in logs and the audit trail', parseId)
    .requiredOption('--scopes <list>', `comma-separated scopes: ${ApiScope.options.join(', ')}`, parseScopes)
    .option('--previous <sha256>', 'rotation: the digest of the key it replaces, accepted until --until')
    .option('--until <date>', 'rotation: when the previous key stops being accepted (ISO 8601, e.g. 2026-12-31T00:00:00Z)')
    .option('--json', 'one JSON object (id, key, sha256, scopes, yaml) for scripts')
    .action((options: CreateOptions) => create(io, options));
  key
    .command('hash')
    .description('print the hex SHA-256 digest of a key read on standard input (for sha256: in hub.apiKeys)')
    .action(() => hash(io));
}
