/** `concord schema [--out F]`: the JSON Schema of the config file, for editors and CI. */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { builtinConnectors } from '../../../connectors/index.js';
import { configJsonSchemaText } from '../../config/json-schema.js';
import { processIo } from '../io.js';
import type { CliIo } from '../io.js';

export function register(program: Command, io: CliIo = processIo): void {
  program
    .command('schema')
    .description('print the JSON Schema of the config file (generated from the zod schema)')
    .option('-o, --out <file>', 'write it to a file instead of stdout')
    .action(async (options: { out?: string }) => {
      const text = configJsonSchemaText(builtinConnectors);
      if (options.out === undefined) {
        io.writeOut(text);
        return;
      }
      await writeFile(options.out, text);
      io.error(`wrote ${options.out}`);
    });
}
