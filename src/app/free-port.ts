/**
 * A free loopback port for something that binds it later (a private Redis, a hub whose public
 * URL names its port before it listens).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Linux's default range for ports the kernel picks itself (`ip_local_port_range`). */
const DEFAULT_EPHEMERAL: readonly [number, number] = [32768, 60999];
/** The lowest port handed out; below it sit the well-known and commonly configured ones. */
const LOWEST = 10_000;
const ATTEMPTS = 200;
/** Fewer ports than this outside the ephemeral range: the kernel picks (the race comes back, rarely). */
const MIN_BAND = 1_000;

/**
 * The range the kernel picks ports from, both for `listen(0)` and for every outgoing connection's
 * local port (`/proc/sys/net/ipv4/ip_local_port_range`).
 */
export function ephemeralPortRange(): readonly [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low! <= high!) return [low!, high!];
  } catch {
    // not Linux, or /proc unreadable: assume Linux's default
  }
  return DEFAULT_EPHEMERAL;
}

/**
 * A TCP port free on loopback right now, chosen at random below the kernel's ephemeral range.
 *
 * A port the kernel picked (`listen(0)`) is free only until the caller binds it: meanwhile any
 * outgoing connection on the machine (a Redis client, a test's HTTP request) may be given it as its
 * local port, and the later bind fails with EADDRINUSE. Ports outside that range are never given
 * out by the kernel, so only another caller choosing the same one at random can take it.
 */
export async function freePort(): Promise<number> {
  const [ephemeralLow, ephemeralHigh] = ephemeralPortRange();
  // The larger of the bands below and above the range; too small a band makes collisions likely.
  const below: [number, number] = [LOWEST, ephemeralLow - 1];
  const above: [number, number] = [Math.max(LOWEST, ephemeralHigh + 1), 65535];
  const [low, high] = below[1] - below[0] >= above[1] - above[0] ? below : above;
  if (high - low + 1 < MIN_BAND) return kernelPicked();
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await bindable(port)) return port;
  }
  return kernelPicked();
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function kernelPicked(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
