/** `concord schema [--out F]`: the JSON Schema of the config file, for editors and CI. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { builtinConnectors } from '../../../connectors/index.js';
import { configJsonSchemaText } from '../../config/json-schema.js';

export function register(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of the config file (generated from the zod schema)')
    .option('-o, --out <file>', 'write it to a file instead of stdout')
    .action(async (options: { out?: string }) => {
      const text = configJsonSchemaText(builtinConnectors);
      if (options.out === undefined) {
        process.stdout.write(text);
        return;
      }
      await writeFile(options.out, text);
      console.error(`wrote ${options.out}`);
    });
}
