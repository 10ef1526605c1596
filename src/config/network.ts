/**
 * The hub's network settings beyond `listen`: which reverse proxies are trusted
 * (`hub.trustProxy`) and who may read the metrics (`hub.metrics`).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { generatedSecret } from './secret.js';

/** The names proxy-addr (Fastify's `trustProxy`) gives to address ranges. */
const RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'] as const;

function isProxyAddress(value: string): boolean {
  if ((RANGE_NAMES as readonly string[]).includes(value)) return true;
  const [address = '', bits, ...rest] = value.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** One trusted proxy: an IP address, a CIDR range, or one of proxy-addr's range names. */
export const ProxyAddress = z
  .string()
  .refine(isProxyAddress, 'expected an IP address (10.0.0.2), a CIDR range (10.0.0.0/8, fd00::/8), or loopback, linklocal or uniquelocal');

/**
 * The reverse proxies (load balancers, ingress) in front of the hub. Only a request that comes
 * from one of them has its `X-Forwarded-For`, `-Proto` and `-Host` believed: then the client
 * address (rate limits, consent evidence) is the first address in `X-Forwarded-For` that is not a
 * trusted proxy. From anyone else those headers are ignored.
 * @defaultValue `[]` (no proxy: the client address is the connection's)
 */
export const TrustProxy = z.array(ProxyAddress).default([]).meta({
  description:
    'Reverse proxies in front of the hub (IP addresses, CIDR ranges, or loopback/linklocal/uniquelocal). Only requests from them have X-Forwarded-For believed, so rate limits and the IP in consent evidence are the client’s. Default: none.',
});

/**
 * Who may read `/metrics`. Without either key it is served on the hub's own listener to anyone
 * who can reach it. `listen` moves it to a listener of its own (e.g. on an internal interface),
 * and the hub's public listener stops serving it; `token` makes it ask for
 * `Authorization: Bearer <token>`, wherever it is served.
 */
export const MetricsEndpoint = z
  .object({
    token: generatedSecret(z.string().min(32), 'A bearer token Prometheus must send to read /metrics (at least 32 characters).').optional(),
    listen: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535),
      })
      .strict()
      .optional()
      .meta({
        description: 'A listener of its own for /metrics (e.g. an internal interface); the public listener then does not serve it.',
      }),
  })
  .strict()
  .prefault({})
  .meta({
    description: 'Who may read /metrics: a listener of its own and/or a bearer token. Default: the hub’s listener, unauthenticated.',
  });
export type MetricsEndpoint = z.infer<typeof MetricsEndpoint>;
