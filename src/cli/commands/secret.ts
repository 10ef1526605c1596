/**
 * `concord secret`: prints a fresh secret, 32 random bytes as base64url, for the settings the
 * operator generates (`hub.secrets.signing`, `hub.secrets.hashKey`, admin API keys, a
 * connector's generated secrets). Production mode refuses anything weaker (`secret-policy.ts`).
 */
import type { Command } from 'commander';
import { generateSecret } from '../../config/secret-policy.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';

export function register(program: Command, io: CliIo = processIo): void {
  program
    .command('secret')
    .description('print a fresh secret (32 random bytes, base64url) for hub.secrets.*, admin API keys and other secrets you generate')
    .action(() => {
      io.log(generateSecret());
    });
}
