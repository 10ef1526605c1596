/* global module */
// Layer rules that `npm run lint` enforces (dependency-cruiser). docs/ARCHITECTURE.md, "Layers", says why.

/** Test code beside the code (`*.test.ts`, `testing/` folders) is not held to the layers of src/. */
const TEST_CODE = ['\\.test\\.ts$', '/testing/'];

/**
 * A layer of src/: its production code (`from`, but not `fromNot`) imports nothing matching `to`
 * (but not `toNot`).
 * @param {{ name: string, comment: string, from: string, fromNot?: string, to: string, toNot?: string }} rule
 * @returns {import('dependency-cruiser').IForbiddenRuleType}
 */
function layer({ name, comment, from, fromNot, to, toNot }) {
  return {
    name,
    severity: 'error',
    comment,
    from: { path: from, pathNot: fromNot === undefined ? TEST_CODE : [fromNot, ...TEST_CODE] },
    to: toNot === undefined ? { path: to } : { path: to, pathNot: toNot },
  };
}

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycles: a cycle makes load order matter and hides which module owns what.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'profile-is-pure',
      severity: 'error',
      comment: 'src/profile is the canonical model: it imports nothing of ours outside src/profile.',
      from: { path: '^src/profile/' },
      to: { path: '^(src|connectors|harness|scripts|test|bin)/', pathNot: '^src/profile/' },
    },
    {
      name: 'connectors-only-from-app-and-cli',
      severity: 'error',
      comment:
        'Only the composition root (src/app), the CLI (src/cli), tests and scripts import connectors/; ' +
        'the rest of src/ takes connector definitions as arguments.',
      from: {
        path: '^src/',
        pathNot: ['^src/app/', '^src/cli/', '\\.test\\.ts$'],
      },
      to: { path: '^connectors/' },
    },
    {
      name: 'nothing-imports-test',
      severity: 'error',
      comment: 'test/ is the top layer: src/, connectors/, harness/, scripts/ and bin/ never import from it.',
      from: { path: '^(src|connectors|harness|scripts|bin)/' },
      to: { path: '^test/' },
    },
    {
      name: 'harness-only-from-tests-and-scripts',
      severity: 'error',
      comment: 'harness/ (in-process hubs for tests and benchmarks) is imported by test/ and scripts/ only.',
      from: { path: '^(src|connectors|bin)/' },
      to: { path: '^harness/' },
    },
    layer({
      name: 'foundation-below-the-engine',
      comment:
        'src/config, src/connector, src/store and src/log sit under the engine: they import none of ' +
        'src/queue, src/sync, src/privacy, src/server, src/app or src/cli.',
      from: '^src/(config|connector|store|log)/',
      to: '^src/(queue|sync|privacy|server|app|cli)/',
    }),
    layer({
      name: 'queue-is-plumbing',
      comment:
        'src/queue (keys, job options, backoff, work sets, call limiter, Lua scripts, Redis health) is shared by ' +
        'sync and privacy: it imports neither, nor anything above them; only src/connector, src/log and src/profile.',
      from: '^src/queue/',
      to: '^(src|connectors|harness|scripts|test|bin)/',
      toNot: '^src/(queue|connector|log|profile)/',
    }),
    layer({
      name: 'sync-below-privacy-and-server',
      comment: 'The engine (src/sync) knows nothing of the privacy module, the HTTP server, the composition root or the CLI.',
      from: '^src/sync/',
      to: '^src/(privacy|server|app|cli)/',
    }),
    layer({
      name: 'privacy-below-server',
      comment: 'src/privacy runs on the engine and is served by the server: it imports neither src/server, src/app nor src/cli.',
      from: '^src/privacy/',
      to: '^src/(server|app|cli)/',
    }),
    layer({
      name: 'server-below-app',
      comment: 'The HTTP server is handed its dependencies (ServerDeps): it imports neither src/app nor src/cli.',
      from: '^src/server/',
      to: '^src/(app|cli)/',
    }),
    layer({
      name: 'sync-through-its-facade',
      comment:
        'The rest of src/ (privacy, server, app, cli) uses the engine through src/sync/index.ts only; its stages ' +
        '(inbound/, outbound/, pull/) stay internal.',
      from: '^src/',
      fromNot: '^src/sync/',
      to: '^src/sync/',
      toNot: '^src/sync/index\\.ts$',
    }),
    layer({
      name: 'server-reads-no-engine-keys',
      comment:
        'The server asks the engine (engine.connectorStatus, its dead letters, engineQueueNames) and never reads the ' +
        'keys the engine keeps in Redis: of src/queue it uses only redis-health.ts (whether Redis is up).',
      from: '^src/server/',
      to: '^src/queue/',
      toNot: '^src/queue/redis-health\\.ts$',
    }),
    {
      name: 'runtime-without-dev-dependencies',
      severity: 'error',
      comment:
        'What the package runs (src/, connectors/ and bin/, test code aside) imports no devDependency: ' +
        '`npm install` of the packed tarball installs only dependencies (tsx, vitest and the like are absent).',
      from: { path: '^(src|connectors|bin)/', pathNot: TEST_CODE },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'runtime-without-scripts',
      severity: 'error',
      comment: 'What the package runs imports nothing of scripts/ (benchmarks, generators): dist/ leaves it out.',
      from: { path: '^(src|connectors|bin)/' },
      to: { path: '^scripts/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every import resolves (a moved file left no importer behind).',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'testing-folders-only-in-tests',
      severity: 'error',
      comment:
        'Test support inside src/ sits in testing/ folders (the connector conformance suite, config and export ' +
        'fixtures): tests import it, production code never does.',
      from: { pathNot: ['\\.test\\.ts$', '^test/', '/testing/'] },
      to: { path: '^src/.*/testing/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|data|dist|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.cjs', '.mjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
