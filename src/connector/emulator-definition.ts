/**
 * The emulator contract. Each connector folder ships an emulator (`connectors/<id>/emulator/`)
 * whose `index.ts` default-exports `defineEmulator({...})`: everything `concord emulate <id>` and
 * the demo (`concord start --demo`) need to know about it, so neither names a system. The
 * registry (`connectors/index.ts`, `builtinEmulators`) lists them.
 */
import { z } from 'zod';

/** Options `concord emulate <id>` hands every emulator's `start`, already validated. */
export const EmulateOptions = z.object({
  /** Port to listen on (0 picks a free one). */
  port: z.number().int().min(0).max(65_535),
  /** Address to listen on. */
  host: z.string().min(1),
  /** The webhook signing secret (`--secret`, or the emulator's `secretEnv`). */
  secret: z.string().min(1),
  /** Where the emulator sends its webhooks (`--webhook-url`), when it sends any. */
  webhookUrl: z.url().optional(),
  /** Requests allowed per window (`--rate-limit 100/10s`), for emulators that declare `cli.rateLimit`. */
  rateLimit: z.object({ max: z.number().int().positive(), intervalMs: z.number().int().positive() }).optional(),
});
export type EmulateOptions = z.infer<typeof EmulateOptions>;

/** What every running emulator offers: its base URL and a way to stop it. */
export interface RunningEmulator {
  url: string;
  close(): Promise<void>;
}

/** A URL the demo prints. */
export interface DemoLink {
  label: string;
  url: string;
  note?: string;
}

/** What the demo knows when it starts an emulator for one connector instance of the config. */
export interface DemoStartContext {
  /** The connector instance id (the YAML key under `connectors:`). */
  instanceId: string;
  /** The instance's config as loaded (its type's keys, secrets resolved). */
  config: Readonly<Record<string, unknown>>;
  /** The port to listen on: the one in the instance's `demo.urlKey` URL, else the emulator's `defaultPort`. */
  port: number;
  /** The hub's public URL without a trailing slash (where the emulator sends webhooks). */
  publicUrl: string;
}

/** The declaration an emulator's `index.ts` default-exports. */
export interface EmulatorDefinition<Id extends string = string, Running extends RunningEmulator = RunningEmulator> {
  /** The system's name in `concord emulate <id>`; also the connector type the demo points at it. */
  id: Id;
  /** One line for `concord emulate`: what the emulator speaks. */
  description: string;
  /** Environment variable the webhook signing secret is read from when `--secret` is absent. */
  secretEnv: string;
  /**
   * The port `concord emulate <id>` listens on without `--port`, and the demo's when the
   * connector's URL names none. Distinct per emulator, so several run side by side; the same as
   * the URL `config/concord.yaml` points the connector at.
   */
  defaultPort: number;
  /** Which of the optional `concord emulate` options the emulator takes. */
  cli: {
    /** What `--webhook-url` means for this system (absent: it sends no webhooks, the option is refused). */
    webhookUrl?: string;
    /** Whether it enforces `--rate-limit` (absent or false: the option is refused). */
    rateLimit?: boolean;
  };
  /** Starts the emulator standalone (`concord emulate <id>`). */
  start(options: EmulateOptions): Promise<Running>;
  /** How the demo runs the emulator for a connector instance of type `id`. */
  demo: {
    /**
     * The connector config key that holds the system's URL: the demo listens on its port and
     * sets it to the emulator's URL, so the instance talks to the emulator.
     */
    urlKey: string;
    /** Starts the emulator for one connector instance (its secrets and ids from the instance's config). */
    start(context: DemoStartContext): Promise<Running>;
    /** The URLs the demo prints for the instance (the emulator's views). */
    links(instanceId: string, running: Running): DemoLink[];
    /**
     * What the emulator's views show once the demo's first person (Ada) withdraws marketing
     * e-mail consent in the preference center, e.g. `HubSpot shows subscription 101 UNSUBSCRIBED`.
     */
    afterWithdrawal?: string;
  };
}

/** The checks `defineEmulator` makes on a declaration (the functions are left to TypeScript). */
const EmulatorDeclaration = z.object({
  id: z.string().regex(/^[a-z][a-z0-9_-]*$/, 'an emulator id is lower case: letters, digits, - and _'),
  description: z.string().min(1),
  secretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name'),
  defaultPort: z.number().int().min(1).max(65_535),
  cli: z.object({ webhookUrl: z.string().min(1).optional(), rateLimit: z.boolean().optional() }),
  demo: z.object({ urlKey: z.string().min(1) }),
});

/**
 * Declares an emulator. Checks the declaration's plain values (throws a `ZodError` naming the
 * bad key when one is wrong) and returns it with its `Id` and `Running` types fixed.
 *
 * ```ts
 * export default defineEmulator({
 *   id: 'acme',
 *   description: 'Acme contacts API, signed webhooks; side door under /_emulator/',
 *   secretEnv: 'ACME_WEBHOOK_SECRET',
 *   defaultPort: 4030,
 *   cli: { webhookUrl: 'where Acme sends its webhooks', rateLimit: true },
 *   start: (o) => startAcmeEmulator({ port: o.port, host: o.host, secret: o.secret }),
 *   demo: {
 *     urlKey: 'baseUrl',
 *     start: (c) => startAcmeEmulator({ port: c.port, secret: 'dev-only', webhookUrl: `${c.publicUrl}/webhooks/${c.instanceId}` }),
 *     links: (id, running) => [{ label: `Acme emulator (${id}): contacts`, url: `${running.url}/_emulator/contacts` }],
 *   },
 * });
 * ```
 */
export function defineEmulator<const Id extends string, Running extends RunningEmulator>(
  def: EmulatorDefinition<Id, Running>,
): EmulatorDefinition<Id, Running> {
  EmulatorDeclaration.parse(def);
  return def;
}

/** The port of `url`, or `fallback` when the URL is absent or names none. */
export function portOf(url: unknown, fallback: number): number {
  if (typeof url !== 'string' || url === '') return fallback;
  const parsed = new URL(url);
  return parsed.port ? Number(parsed.port) : fallback;
}
