import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Vitest global setup: make sure Redis and PostgreSQL answer before any test runs. */
export default function setup(): void {
  const script = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url));
  execFileSync('bash', [script], { stdio: 'inherit' });
}
