/** The `concord` command: the program of `program.ts` on the process's streams, environment and signals. */
import { runCli } from './program.js';

await runCli(process.argv.slice(2));
