/**
 * The registry of built-in connectors and their emulators: the CLI, the demo and the config
 * loader loop over these lists and name no connector themselves.
 *
 * Adding a connector is one line here: the `import()` of its folder's bundle
 * (`connectors/<id>/index.ts`, `defineBuiltin({ connector, emulator })`) in the list below. The
 * import is the list entry, so there is no second place to forget; the order is the order
 * `concord emulate` and the demo list them in. `connectors/memory` is not a built-in (its README).
 */
import { connectorsOf, emulatorsOf } from '../src/connector/builtin.js';

const bundles = await Promise.all([
  // One line per built-in connector (connectors/README.md, "Checklist").
  import('./hubspot/index.js'),
  import('./salesforce/index.js'),
  import('./mailchimp/index.js'),
  import('./segment/index.js'),
  import('./http/index.js'),
]);

/** The connector types `concord.yaml` may use. */
export const builtinConnectors = connectorsOf(bundles);

/** The emulators `concord emulate` runs and the demo starts, one per built-in connector type (its `id`). */
export const builtinEmulators = emulatorsOf(bundles);
