/**
 * The BullMQ dashboard (bull-board) at /admin/queues, behind an API key. Viewing (every GET)
 * needs `queues:read`; every action (retry, clean, promote, pause, add, edit: each board route
 * that is not a GET) needs `admin`. A key without `admin` is shown the queues in the board's
 * read-only mode, so its UI offers no actions. Browsers get a Basic challenge (the user name is
 * ignored; the API key is the password).
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Queue } from 'bullmq';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RedisClient } from '../queue/redis-health.js';
import { engineQueueNames, queuePrefix } from '../sync/index.js';
import type { SyncConnector } from '../sync/index.js';
import { hasScope } from './api-keys.js';
import type { ApiKeyRecord } from './api-keys.js';
import { authenticatePage } from './page-auth.js';

export const QUEUE_BOARD_PATH = '/admin/queues';

/**
 * bull-board's page links a remote stylesheet (Google Fonts, IBM Plex): the hub serves the page
 * without any `<link>` to another host, so the board uses the system's fonts and opening it
 * sends no request (nor the operator's address) anywhere but the hub. The hub's CSP allows no
 * remote styles or fonts either (`security-headers.ts`).
 */
export function withoutRemoteLinks(html: string): string {
  return html.replace(/<link\b[^>]*\bhref=["']?(?:https?:)?\/\/[^>]*>\s*/gi, '');
}

function isQueueList(payload: unknown): payload is { queues: Record<string, unknown>[] } {
  return typeof payload === 'object' && payload !== null && Array.isArray((payload as { queues?: unknown }).queues);
}

export async function registerQueueBoard(
  app: FastifyInstance,
  options: { redis: RedisClient; prefix: string; connectors: readonly SyncConnector[]; apiKeys: readonly ApiKeyRecord[] },
): Promise<void> {
  const queues = engineQueueNames(options.connectors).map(
    (name) => new Queue(name, { connection: options.redis, prefix: queuePrefix(options.prefix, name) }),
  );
  // The connection's owner logs its errors; without a listener BullMQ would print each one while Redis is away.
  for (const q of queues) q.on('error', () => undefined);
  const adapter = new FastifyAdapter();
  adapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q)),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: 'Concord queues' } },
  });

  const readOnly = new WeakSet<FastifyRequest>();
  await app.register(async (scope) => {
    scope.addHook('onRequest', async (request, reply) => {
      const viewing = request.method === 'GET' || request.method === 'HEAD';
      const principal = await authenticatePage(options.apiKeys, request, reply, viewing ? 'queues:read' : 'admin', 'Concord queues');
      if (principal === null) return reply;
      if (!hasScope(principal.scopes, 'admin')) readOnly.add(request);
    });
    scope.addHook('onSend', async (_request, reply, payload) => {
      const type = reply.getHeader('content-type');
      return typeof payload === 'string' && typeof type === 'string' && type.startsWith('text/html')
        ? withoutRemoteLinks(payload)
        : payload;
    });
    // The board's UI reads each queue's `readOnlyMode` from GET api/queues and hides its actions.
    scope.addHook('preSerialization', async (request, _reply, payload: unknown) => {
      if (!readOnly.has(request) || !isQueueList(payload)) return payload;
      return { ...payload, queues: payload.queues.map((q) => ({ ...q, readOnlyMode: true })) };
    });
    await scope.register(adapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
  });
  app.addHook('onClose', async () => {
    await Promise.all(queues.map((q) => q.close()));
  });
}
