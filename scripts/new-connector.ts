/**
 * `npm run new-connector <id>`: creates `connectors/<id>/` and its conformance test from the
 * template (`scripts/new-connector/`), then prints what is left to do. Refuses an invalid id or
 * one that exists.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NewConnectorError, newConnector } from './new-connector/generate.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [id, ...rest] = process.argv.slice(2);
if (id === undefined || rest.length > 0) {
  console.error('usage: npm run new-connector <id>   (lower-case letters, digits and dashes, e.g. mailchimp)');
  process.exit(2);
}
try {
  const result = await newConnector({ id, root });
  console.log(`Created the ${id} connector (emulator on port ${result.port}):`);
  for (const file of result.files) console.log(`  ${file}`);
  console.log('\nWhat is left:');
  result.checklist.forEach((step, i) => console.log(`  ${i + 1}. ${step}`));
} catch (err) {
  if (!(err instanceof NewConnectorError)) throw err;
  console.error(`new-connector: ${err.message}`);
  process.exit(1);
}
