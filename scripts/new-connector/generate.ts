/**
 * Creates a new connector from the template beside this file (`template/`): `connectors/<id>/`
 * (connector, config, mapping, webhook, emulator on the emulator kit, README) and its
 * conformance test `test/integration/<id>/conformance.test.ts`. Placeholders in paths and text:
 * `__id__` (the id), `__Name__` (PascalCase), `__name__` (camelCase), `__ENV__` (an environment
 * variable prefix) and `__PORT__` (the emulator's default port, the first free one from 4010 in
 * steps of 10). The files are formatted with the repository's Prettier config.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

const TEMPLATE = join(dirname(fileURLToPath(import.meta.url)), 'template');

/** A connector id: lower-case letters and digits, words joined by single dashes, starting with a letter. */
export const CONNECTOR_ID = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** A refused id (invalid, or taken); the message says why. */
export class NewConnectorError extends Error {}

export interface NewConnectorOptions {
  /** The connector type, e.g. `mailchimp`. */
  id: string;
  /** The repository root to create the files under. */
  root: string;
}

export interface NewConnectorResult {
  /** The files created, relative to `root`. */
  files: string[];
  /** The emulator's default port. */
  port: number;
  /** What is left to do, one step a line. */
  checklist: string[];
}

function pascal(id: string): string {
  return id
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/** The default ports the emulators under `root/connectors/` declare. */
async function takenPorts(root: string): Promise<Set<number>> {
  const ports = new Set<number>();
  const dir = join(root, 'connectors');
  if (!existsSync(dir)) return ports;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = join(dir, entry.name, 'emulator', 'index.ts');
    if (!entry.isDirectory() || !existsSync(file)) continue;
    const match = /defaultPort:\s*([\d_]+)/.exec(await readFile(file, 'utf8'));
    if (match?.[1]) ports.add(Number(match[1].replaceAll('_', '')));
  }
  return ports;
}

async function templateFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.tmpl')).map((e) => relative(TEMPLATE, join(e.parentPath, e.name)));
}

/** Creates the connector's files; throws `NewConnectorError` for an invalid or taken id. */
export async function newConnector(options: NewConnectorOptions): Promise<NewConnectorResult> {
  const { id, root } = options;
  if (!CONNECTOR_ID.test(id)) {
    throw new NewConnectorError(
      `"${id}" is not a connector id: lower-case letters and digits, words joined by "-", starting with a letter`,
    );
  }
  for (const taken of [join('connectors', id), join('test', 'integration', id)]) {
    if (existsSync(join(root, taken))) throw new NewConnectorError(`${taken} exists already: pick another id`);
  }
  const ports = await takenPorts(root);
  let port = 4010;
  while (ports.has(port)) port += 10;
  const Name = pascal(id);
  const values: Record<string, string> = {
    __id__: id,
    __Name__: Name,
    __name__: Name.charAt(0).toLowerCase() + Name.slice(1),
    __ENV__: id.toUpperCase().replaceAll('-', '_'),
    __PORT__: String(port),
  };
  const fill = (text: string): string => text.replace(/__(id|Name|name|ENV|PORT)__/g, (placeholder) => values[placeholder] ?? placeholder);

  const files: string[] = [];
  for (const source of await templateFiles(TEMPLATE)) {
    const target = fill(source.slice(0, -'.tmpl'.length));
    const path = join(root, target);
    let text = fill(await readFile(join(TEMPLATE, source), 'utf8'));
    if (target.endsWith('.ts')) text = await prettier.format(text, { ...(await prettier.resolveConfig(path)), filepath: path });
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text, { flag: 'wx' });
    files.push(target);
  }
  return {
    files: files.sort(),
    port,
    checklist: [
      `Add this line to the list in connectors/index.ts:  import('./${id}/index.js'),`,
      `Write the emulator from the vendor's documentation (connectors/${id}/emulator/server.ts: routes, errors, limits, webhook signature, the side door's userChange), and check it with the vendor's official client where one exists.`,
      `Replace each "not implemented" stub in connectors/${id}/connector.ts (and webhook.ts, config.ts, mapping.ts); set a capability the vendor lacks to false and delete its method. npx vitest run test/integration/${id} lists what is left.`,
      'npm run schema and npm run docs:config (regenerate config/concord.schema.json and docs/CONFIG.md; commit both with the connector).',
      `Fill in connectors/${id}/README.md; tests for what conformance does not cover; then npm run typecheck, npm run lint, duplicates --change.`,
    ],
  };
}
