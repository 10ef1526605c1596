/**
 * The quickstart behind `npm start`: an emulator for each enabled connector instance (the
 * registry's `builtinEmulators`: HubSpot's and Salesforce's today) on the port the instance's
 * URL names, the hub (API and workers) on a demo database and Redis prefix that are reset on
 * every run (the emulators forget everything when they stop), a few demo profiles pushed to both
 * systems, and the URLs to try: a preference-center link, the public request page and the mail
 * the development SMTP catcher caught (with `hub.mail.transport: catcher`), the API docs, the
 * queue board, the metrics and the emulators' views.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { builtinEmulators } from '../../connectors/index.js';
import { portOf } from '../connector/emulator-definition.js';
import type { DemoLink, EmulatorDefinition, RunningEmulator } from '../connector/emulator-definition.js';
import type { Config } from '../config/schema.js';
import type { ProfilePatch } from '../profile/schema.js';
import { deleteDeploymentKeys } from '../queue/delete-keys.js';
import { PreferenceLinks, preferenceUrl } from '../server/index.js';
import { recordDemo, runningDemo } from './demo-state.js';
import { startHubProcess } from './hub.js';
import type { HubProcess } from './hub.js';
import { redisAnswers, startPrivateRedis } from './redis.js';
import type { PrivateRedis } from './redis.js';

export const DEMO_DATABASE = 'sqlite:./data/demo.db';
export const DEMO_PREFIX = '{concord-demo}';

export const DEMO_PEOPLE = [
  { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' },
  { email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper', country: 'US' },
  { email: 'hiro@example.com', firstName: 'Hiro', lastName: 'Tanaka', country: 'JP' },
] as const;

export type { DemoLink };

type BuiltinEmulator = (typeof builtinEmulators)[number];
/** The running emulators by system: the first instance's of each type the config enables. */
export type DemoEmulators = { [E in BuiltinEmulator as E['id']]?: Awaited<ReturnType<E['start']>> };

export interface DemoOptions {
  /** Default `sqlite:./data/demo.db`; a SQLite file is deleted first when `reset` is on. */
  databaseUrl?: string;
  /** Default `{concord-demo}`; its Redis keys are deleted first when `reset` is on. */
  keyPrefix?: string;
  /** Start from empty state (default true): the emulators start empty, so must the hub. */
  reset?: boolean;
  /** Where the hub listens (default: the config's `hub.listen.port`). */
  port?: number;
  /**
   * The state file that tells other commands a demo runs (`npm start` passes `data/demo.json`):
   * the demo refuses to start while the file names a live demo, writes it once the hub runs and
   * removes it when it stops. Absent: no state file (tests running demos side by side).
   */
  stateFile?: string;
  /** The config file the demo runs, recorded in the state file (as an absolute path). */
  configPath?: string;
}

export interface Demo {
  hub: HubProcess;
  emulators: DemoEmulators;
  /** The preference-center link of the first demo person. */
  preferenceLink: string | null;
  links: DemoLink[];
  /** What the started emulators' views show once Ada withdraws marketing e-mail consent (one line each). */
  afterWithdrawal: string[];
  /** Where Redis came from: the configured one, or a private one started for the demo. */
  redis: { url: string; private: boolean };
  close(): Promise<void>;
}

export class DemoError extends Error {
  readonly code = 'demo.unavailable';
}

interface Closable {
  close(): Promise<void>;
}

async function deletePrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    await deleteDeploymentKeys(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

function seedPatch(person: (typeof DEMO_PEOPLE)[number]): ProfilePatch {
  const at = new Date().toISOString();
  return {
    id: `admin:demo-${uuidv7()}`,
    source: 'admin',
    at,
    receivedAt: at,
    identities: [{ kind: 'email', value: person.email }],
    attributes: { firstName: person.firstName, lastName: person.lastName, country: person.country },
    consents: { marketing: { email: { status: 'granted', evidence: { method: 'demo_seed', noticeVersion: 'demo' } } } },
    subscriptions: { newsletter: true },
    rights: { objections: {} },
    reason: 'demo seed',
  };
}

async function waitIdle(hub: HubProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  while (Date.now() < deadline) {
    quiet = (await hub.engine.idle()) ? quiet + 1 : 0;
    if (quiet >= 3) return true;
    await sleep(200);
  }
  return false;
}

export async function startDemo(loaded: Config, logger: Logger, options: DemoOptions = {}): Promise<Demo> {
  const databaseUrl = options.databaseUrl ?? DEMO_DATABASE;
  const keyPrefix = options.keyPrefix ?? DEMO_PREFIX;
  // The connectors are pointed at the emulators as started (a port 0 in the config picks a free one).
  const config: Config = { ...loaded, connectors: { ...loaded.connectors } };
  if (config.hub.mode !== 'development')
    throw new DemoError('the demo runs only with hub.mode: development (it resets its own database and Redis prefix)');
  const { stateFile } = options;
  const other = stateFile === undefined ? null : runningDemo(stateFile);
  // Before anything is reset: the running demo's database and Redis keys are its own.
  if (other)
    throw new DemoError(
      `a demo already runs (pid ${other.pid}${other.url ? ` at ${other.url}` : ''}, started ${other.startedAt}): use it, or stop it first (Ctrl-C in its terminal, or kill ${other.pid})`,
    );
  const closables: Closable[] = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closables.reverse()) await c.close().catch(() => undefined);
  };
  try {
    // Redis: the configured one, or a private one. The demo runs on one node only.
    if (typeof config.hub.redisUrl !== 'string')
      throw new DemoError(
        'the demo runs on a single Redis: set hub.redisUrl to a redis:// URL (a Cluster or Sentinel is for `concord start`)',
      );
    let redisUrl = config.hub.redisUrl;
    let privateRedis: PrivateRedis | null = null;
    if (!(await redisAnswers(redisUrl))) {
      privateRedis = await startPrivateRedis();
      if (!privateRedis) {
        throw new DemoError(
          `no Redis answers at ${new URL(redisUrl).host} and redis-server is not on PATH. Install Redis (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or run one with Docker (docker run -p 6379:6379 redis:7), or set REDIS_URL.`,
        );
      }
      const started = privateRedis;
      closables.push({ close: () => started.stop() });
      redisUrl = started.url;
    }

    // Fresh demo state: the emulators start empty, so must the hub.
    if (options.reset ?? true) {
      if (databaseUrl.startsWith('sqlite:')) {
        for (const suffix of ['', '-wal', '-shm']) rmSync(`${databaseUrl.slice('sqlite:'.length)}${suffix}`, { force: true });
      }
      await deletePrefix(redisUrl, keyPrefix);
    }
    const emulators: Demo['emulators'] = {};

    const publicUrl = config.hub.publicUrl.replace(/\/$/, '');
    const links: DemoLink[] = [];
    const afterWithdrawal = new Set<string>();
    const byType = new Map<string, EmulatorDefinition>(builtinEmulators.map((e) => [e.id, e]));
    const running: Record<string, RunningEmulator> = emulators;
    for (const [id, connector] of Object.entries(config.connectors)) {
      if (!connector.enabled) continue;
      const definition = byType.get(connector.type);
      if (!definition) continue;
      const { urlKey } = definition.demo;
      const emulator = await definition.demo.start({
        instanceId: id,
        config: connector,
        port: portOf(connector[urlKey], definition.defaultPort),
        publicUrl,
      });
      closables.push(emulator);
      running[definition.id] ??= emulator;
      config.connectors[id] = { ...connector, [urlKey]: emulator.url };
      links.push(...definition.demo.links(id, emulator));
      if (definition.demo.afterWithdrawal) afterWithdrawal.add(definition.demo.afterWithdrawal);
    }

    const hub = await startHubProcess(config, {
      role: 'all',
      logger,
      overrides: { redisUrl, databaseUrl, keyPrefix, ...(options.port !== undefined ? { port: options.port } : {}) },
    });
    closables.push(hub);
    if (stateFile !== undefined) {
      const forget = recordDemo(
        {
          pid: process.pid,
          ...(options.configPath === undefined ? {} : { config: resolve(options.configPath) }),
          databaseUrl,
          keyPrefix,
          ...(privateRedis ? { privateRedisUrl: redisUrl } : {}),
          url: hub.url,
          startedAt: new Date().toISOString(),
        },
        stateFile,
      );
      closables.push({ close: async () => forget() });
    }

    for (const person of DEMO_PEOPLE) await hub.hubIngest.ingest(seedPatch(person), { actor: 'demo' });
    if (!(await waitIdle(hub, 60_000))) logger.warn('demo profiles are still being delivered');

    const ada = await hub.store.findProfile({ kind: 'email', value: DEMO_PEOPLE[0].email });
    const redis = new Redis(redisUrl);
    closables.push({ close: async () => redis.disconnect() });
    const preferenceLinks = new PreferenceLinks(config.hub.secrets.signing, redis, hub.engine.prefix);
    const hubLinks: DemoLink[] = [];
    let preferenceLink: string | null = null;
    if (ada) {
      const { token } = preferenceLinks.issue(ada.id, config.hub.preferenceCenter.linkTtl);
      preferenceLink = preferenceUrl(publicUrl, token);
      hubLinks.push({ label: 'Preference center for Ada Lovelace', url: preferenceLink });
    }
    if (hub.mailCatcher) {
      hubLinks.push(
        { label: 'Ask for your data without a link (mails a one-time link)', url: `${publicUrl}/requests` },
        { label: 'Mail caught by the development SMTP catcher', url: `${publicUrl}/dev/mail` },
      );
    }
    hubLinks.push(
      { label: 'Admin API docs', url: `${publicUrl}/api/v1/docs` },
      { label: 'Operations page', url: `${publicUrl}/admin`, note: 'user: anything; password: an admin API key' },
      { label: 'Queue dashboard', url: `${publicUrl}/admin/queues`, note: 'user: anything; password: an admin API key' },
      { label: 'Metrics (Prometheus)', url: `${publicUrl}/metrics` },
      { label: 'Health', url: `${publicUrl}/readyz` },
    );
    return {
      hub,
      emulators,
      preferenceLink,
      links: [...hubLinks, ...links],
      afterWithdrawal: [...afterWithdrawal],
      redis: { url: redisUrl, private: privateRedis !== null },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
