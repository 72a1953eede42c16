// ESLint for the whole workspace: typescript-eslint's recommended type-aware rules, and the
// layering of docs/ARCHITECTURE.md as a rule. Every project names its floor in its package.json
// (`nx.tags`, e.g. "floor:nn"); FLOOR_IMPORTS below is the one place that says which floors a
// floor may import. An import of any other @convoy package fails lint with BOUNDARY_MESSAGE.
//
// Why not @nx/enforce-module-boundaries: the rule ships in @nx/eslint-plugin, whose version must
// equal the workspace's nx (24.0.6), and no @nx/eslint-plugin 24.0.6 is published in the registry
// this workspace installs from; a mismatched plugin reads another nx's project graph. The core
// `no-restricted-imports` rule, generated from the tags, enforces the same table with no extra
// dependency. tools/lint/boundaries.test.mjs proves an upward import fails.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import tseslint from 'typescript-eslint';

const root = dirname(fileURLToPath(import.meta.url));

/** Which floors each floor may import, lowest first (docs/ARCHITECTURE.md draws this table). */
export const FLOOR_IMPORTS = {
  'floor:tensor': [],
  // kernels, data and cluster stand side by side on tensor: none imports another.
  'floor:foundation': ['floor:tensor'],
  // @convoy/native is a second implementation of the kernels' KernelBackend, built on its types.
  'floor:native': ['floor:tensor', 'floor:foundation'],
  'floor:nn': ['floor:tensor', 'floor:foundation'],
  // run and worker stand side by side on nn: neither imports the other.
  'floor:runtime': ['floor:tensor', 'floor:foundation', 'floor:native', 'floor:nn'],
  'floor:app': ['floor:tensor', 'floor:foundation', 'floor:native', 'floor:nn', 'floor:runtime'],
  'floor:bench': ['floor:tensor', 'floor:foundation', 'floor:native', 'floor:nn', 'floor:runtime'],
};

export const BOUNDARY_MESSAGE =
  'Imports run down the floors of docs/ARCHITECTURE.md; the floors each floor may import are FLOOR_IMPORTS in eslint.config.mjs.';

/** Every workspace project: its directory, package name and floor tag. */
function readProjects() {
  const projects = [];
  for (const group of ['packages', 'apps']) {
    for (const entry of readdirSync(join(root, group))) {
      const dir = `${group}/${entry}`;
      if (existsSync(join(root, dir, 'package.json'))) projects.push(dir);
    }
  }
  projects.push('benchmarks');
  return projects.map((dir) => {
    const manifest = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    const floors = (manifest.nx?.tags ?? []).filter((tag) => tag.startsWith('floor:'));
    if (floors.length !== 1 || !(floors[0] in FLOOR_IMPORTS)) {
      throw new Error(
        `${dir}/package.json: nx.tags needs exactly one of ${Object.keys(FLOOR_IMPORTS).join(', ')} (found ${JSON.stringify(floors)})`,
      );
    }
    return { dir, name: manifest.name, floor: floors[0] };
  });
}

function boundaryConfigs(projects) {
  return projects.map((project) => {
    const allowed = projects.filter(
      (other) => other.name === project.name || FLOOR_IMPORTS[project.floor].includes(other.floor),
    );
    // Any @convoy package not allowed, including ones that do not exist yet, and the apps'
    // unscoped names; a relative path into another project's folder is refused too.
    const group = [
      '@convoy/*',
      ...allowed.flatMap((other) => [`!${other.name}`, `!${other.name}/*`]),
      ...projects.filter((other) => !other.name.startsWith('@convoy/') && !allowed.includes(other)).map((other) => other.name),
    ];
    return {
      name: `convoy/boundaries/${project.dir}`,
      files: [`${project.dir}/**/*.{ts,mts,cts,js,mjs,cjs}`],
      rules: {
        '@typescript-eslint/no-restricted-imports': [
          'error',
          {
            patterns: [
              { group, message: `${project.dir} is on ${project.floor}. ${BOUNDARY_MESSAGE}` },
              {
                // Another project's build output or sources, reached by path around its exports.
                group: ['**/packages/*/dist/*', '**/packages/*/src/*', '**/apps/*/dist/*', '**/apps/*/src/*'],
                message: 'Import another project by its package name and its exports, not by a path into its folder.',
              },
            ],
          },
        ],
      },
    };
  });
}

const typeScriptFiles = ['**/*.ts', '**/*.mts', '**/*.cts'];

/** The no-unsafe-* rules, off where `any` is the boundary itself (see each use). */
const UNSAFE_ANY_OFF = {
  '@typescript-eslint/no-unsafe-argument': 'off',
  '@typescript-eslint/no-unsafe-return': 'off',
  '@typescript-eslint/no-unsafe-assignment': 'off',
  '@typescript-eslint/no-unsafe-member-access': 'off',
  '@typescript-eslint/no-unsafe-call': 'off',
};

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      // AssemblyScript: its own compiler (asc) checks it; TypeScript's types do not describe it.
      'packages/kernels/assembly/**',
      '**/coverage/**',
      '**/runs/**',
    ],
  },
  {
    files: typeScriptFiles,
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    rules: {
      // A leading underscore marks a parameter an interface requires but this implementation does
      // not read (Module.backward's grads in a layer without parameters), and a destructured rest
      // names what it leaves out; both are deliberate, not forgotten.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true, caughtErrors: 'none' },
      ],
      // Off: an async method without an await keeps a Promise-returning contract that another
      // implementation of the same interface needs (a worker pool, the browser runner); making it
      // sync would change every caller's type for no behaviour.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // koffi's foreign functions are typed `any` by koffi; the declared C prototypes in these files
    // are the type boundary, and their wrappers return typed values. The no-unsafe rules would flag
    // every call into libmpi and oneDNN.
    files: ['packages/cluster/src/cluster.ts', 'packages/cluster/src/libmpi.ts', 'packages/native/src/**/*.ts'],
    rules: UNSAFE_ANY_OFF,
  },
  {
    // Tests read JSON: the CLI's JSON-lines output, fixture files, child-process messages.
    // JSON.parse's `any` is the very value under test, and jest's expect checks its shape at run
    // time; typing every parsed line would restate the assertions as casts.
    files: ['**/test/**/*.ts', '**/e2e/**/*.ts'],
    rules: UNSAFE_ANY_OFF,
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [...tseslint.configs.recommended],
    languageOptions: {
      globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly' },
    },
    rules: {
      // Plain CommonJS config files and scripts (jest.config.js) require by design.
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  ...boundaryConfigs(readProjects()),
);
