/**
 * The version `concord --version` prints: the `version` of Concord's own `package.json`, found
 * by walking up from this module. The same lookup works from `src/cli/` (tsx, tests) and from
 * `dist/src/cli/` (the compiled build, an installed package), which sit at different depths.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const PACKAGE_NAME = 'concord';

const PackageJson = z.object({ name: z.string(), version: z.string() });

/**
 * The version in the nearest `package.json` named `concord` at or above `fromDirectory`;
 * throws when none is found (a broken install: the package always ships its package.json).
 */
export function packageVersion(fromDirectory: string = dirname(fileURLToPath(import.meta.url))): string {
  let directory = fromDirectory;
  for (;;) {
    const found = readPackageJson(join(directory, 'package.json'));
    if (found?.name === PACKAGE_NAME) return found.version;
    const parent = dirname(directory);
    if (parent === directory) throw new Error(`no package.json named ${PACKAGE_NAME} above ${fromDirectory}`);
    directory = parent;
  }
}

function readPackageJson(file: string): z.infer<typeof PackageJson> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = PackageJson.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : undefined;
}
