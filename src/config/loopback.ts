/**
 * Loopback addresses: where a hub on development terms may listen and be reached. Names are
 * not looked up: only `localhost` (and `*.localhost`, RFC 6761) count, besides the literal
 * addresses 127.0.0.0/8 and ::1 (also IPv4-mapped).
 */
import { BlockList, isIP } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** True for a host name or address on loopback (`[::1]` as written in URLs, too). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const family = isIP(bare);
  if (family !== 0) return LOOPBACK.check(bare, family === 6 ? 'ipv6' : 'ipv4');
  const name = bare.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/** True when a URL's host is on loopback; `undefined` when it is not a URL. */
export function isLoopbackUrl(url: string): boolean | undefined {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return undefined;
  }
}
