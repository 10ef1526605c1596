/** How the hub's own pages are answered: HTML that is never cached or indexed (personal links, one-time tokens). */
import type { FastifyReply } from 'fastify';

/** Sends a page; `refreshSeconds` asks the browser to reload it (a request still in progress). */
export function sendHtml(reply: FastifyReply, status: number, body: string, refreshSeconds?: number): FastifyReply {
  reply.code(status).header('cache-control', 'no-store').header('x-robots-tag', 'noindex, nofollow').type('text/html; charset=utf-8');
  if (refreshSeconds !== undefined) reply.header('refresh', String(refreshSeconds));
  return reply.send(body);
}
