/** `listen()` reports where the server is really bound, so `concord start` prints the truth. */
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { addressUrl, boundUrls, listen } from '../../../src/server/build.js';

describe('listen', () => {
  const app = Fastify();
  afterEach(async () => {
    await app.close();
  });

  it('names every address it is bound to: all interfaces as 0.0.0.0, not the first one Fastify names', async () => {
    const url = await listen(app, { host: '0.0.0.0', port: 0 });
    const { port } = app.server.address() as { port: number };
    expect(url).toBe(`http://0.0.0.0:${port}`);
    expect(boundUrls(app)).toEqual([`http://0.0.0.0:${port}`]);
  });

  it('writes IPv6 addresses in brackets', () => {
    expect(addressUrl({ address: '::1', family: 'IPv6', port: 8080 })).toBe('http://[::1]:8080');
    expect(addressUrl({ address: '127.0.0.1', family: 'IPv4', port: 8080 })).toBe('http://127.0.0.1:8080');
  });
});
