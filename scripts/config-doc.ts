/**
 * `npm run docs:config`: writes `docs/CONFIG.md`, the configuration reference generated from
 * the zod schema (`scripts/config-doc/render.ts`).
 */
import { writeFile } from 'node:fs/promises';
import { CONFIG_DOC_PATH, configDocText } from './config-doc/render.js';

await writeFile(CONFIG_DOC_PATH, await configDocText());
process.stdout.write(`wrote ${CONFIG_DOC_PATH}\n`);
