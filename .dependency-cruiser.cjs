/* global module */
// Layer rules that `npm run lint` enforces (dependency-cruiser). docs/ARCHITECTURE.md, "Layers", says why.
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
