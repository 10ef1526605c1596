/**
 * The `concord` command: the program of `program.ts` on the process's streams, environment and
 * signals. `concord --version` alone answers without loading the program (every command and
 * its dependencies), so it returns at once; the program answers it the same way.
 */
import { packageVersion } from './version.js';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  console.log(packageVersion());
} else {
  const { runCli } = await import('./program.js');
  await runCli(args);
}
