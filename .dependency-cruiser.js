// The layers of src/, checked on every `npm test` (test/layers.test.ts runs dependency-cruiser
// with this file). Arrows only go down:
//
//   cli/                               the command line (its `colt daemon` starts the daemon)
//   daemon/                            the gRPC Tuner service
//   jobs/  bench/                      the job machinery; the benchmark driver
//   reporters/                         progress table, JSON lines
//   tuning/                            one tuning run: session, checkpoint, summary, work dir
//   options/                           option schemas and defaults, targets, workload specs
//   llm/  bridge/  process/            the adapters (bridge/ alone touches generated stubs,
//                                      with daemon/ for its own service); signals
//   errors.ts  log.ts  config/  generated/
//   search/                            the pure core: imports nothing from outside itself
//
// A layer may import any layer below it, never one above, and never a sibling beside it.
const LAYERS = [
  ['cli'],
  ['daemon'],
  ['jobs', 'bench'],
  ['reporters'],
  ['tuning'],
  ['options'],
  ['llm', 'bridge', 'process'],
  ['errors\\.ts', 'log\\.ts', 'config', 'generated'],
  ['search'],
];

const folder = (name) => `^src/${name}(/|$)`;
const anyOf = (names) => `^src/(${names.join('|')})(/|$)`;

/** For each layer: nothing above it, and no sibling of it. */
const layerRules = LAYERS.flatMap((layer, rank) => {
  const above = LAYERS.slice(0, rank).flat();
  return layer.map((name) => {
    const forbidden = [...above, ...layer.filter((other) => other !== name)];
    return {
      name: `layer-${name.replace(/\\\./, '-')}`,
      comment: `src/${name.replace(/\\/g, '')} stands below ${forbidden.map((f) => f.replace(/\\/g, '')).join(', ')}: it must not import them`,
      severity: 'error',
      from: { path: folder(name) },
      to: { path: anyOf(forbidden) },
    };
  });
}).filter((rule) => !rule.to.path.includes('()'));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'no import cycles',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'search-is-pure',
      comment: 'src/search imports nothing from outside itself: no other folder, no package, no node: module',
      severity: 'error',
      from: { path: folder('search') },
      to: { pathNot: folder('search') },
    },
    {
      name: 'nothing-below-cli-imports-cli',
      comment: 'only src/cli imports src/cli',
      severity: 'error',
      from: { pathNot: folder('cli') },
      to: { path: folder('cli') },
    },
    {
      name: 'generated-stubs-stay-in-bridge-and-daemon',
      comment: 'the wire format is bridge/ and daemon/ business; everyone else uses their types',
      severity: 'error',
      from: { path: '^src/', pathNot: anyOf(['bridge', 'daemon', 'generated']) },
      to: { path: folder('generated') },
    },
    {
      name: 'no-unresolvable',
      comment: 'an import the checker cannot resolve is an import it cannot check',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: ['node_modules', '^src/generated/'] },
    // `import type` counts: a type-only import still ties the layers together.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
