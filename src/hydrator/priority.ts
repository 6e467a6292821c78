// Which blobs the background hydrator fetches first. Two tables: the priority classes (best
// first; the number is the queue's bucket index) and the classification rows that put a path into
// a background class. Callers assign the first two classes themselves: `read` for a blocked
// read (ensure), `nudged` for the entries of a directory that was just listed (nudge).
//
// Order inside a class is not decided here but by the queue: smaller blobs first, unknown sizes
// last, then first-come first-served. Small-first is the classic shortest-job-first trick: with
// bytes as the bottleneck it maximises files-readable-per-second, so a build or an editor finds
// more of what it opens ready, and large files (which take long anyway) wait the longest.

/** The priority classes, best first. */
export const PRIORITY_CLASSES = [
  { name: 'read', priority: 0, assignedBy: 'caller', meaning: 'a read is blocked on it (Hydrator.ensure)' },
  { name: 'nudged', priority: 1, assignedBy: 'caller', meaning: 'its directory was just listed (Hydrator.nudge)' },
  { name: 'manifest', priority: 2, assignedBy: 'table', meaning: 'package manifests and lock files: tools read them first' },
  { name: 'config', priority: 3, assignedBy: 'table', meaning: 'configuration: dotfiles, json/yaml/toml, Makefile, Dockerfile' },
  { name: 'source', priority: 4, assignedBy: 'table', meaning: 'source code' },
  { name: 'docs', priority: 5, assignedBy: 'table', meaning: 'documentation: README, LICENSE, markdown, text' },
  { name: 'other', priority: 6, assignedBy: 'table', meaning: 'anything no row matched' },
  { name: 'bulk', priority: 7, assignedBy: 'table', meaning: 'known binary formats and any blob over LARGE_BLOB_BYTES' },
] as const;

export type PriorityClass = (typeof PRIORITY_CLASSES)[number]['name'];
export type Priority = (typeof PRIORITY_CLASSES)[number]['priority'];
/** Classes the classification table may assign (not the caller-assigned ones). */
export type BackgroundClass = Exclude<PriorityClass, 'read' | 'nudged'>;

/** Priority by class name: PRIORITY.read === 0 … PRIORITY.bulk === 7. */
export const PRIORITY = Object.fromEntries(PRIORITY_CLASSES.map((c) => [c.name, c.priority])) as
  { readonly [K in PriorityClass]: Priority };
/** Number of classes; valid priorities are 0 … PRIORITY_COUNT - 1. */
export const PRIORITY_COUNT = PRIORITY_CLASSES.length;
/** A blob larger than this (bytes) is 'bulk' whatever its name, unless it is a manifest. */
export const LARGE_BLOB_BYTES = 1024 * 1024;

export function isPriority(n: number): n is Priority {
  return Number.isInteger(n) && n >= 0 && n < PRIORITY_COUNT;
}

/**
 * One classification row. Every field present must match (names, pattern and extensions test
 * the lowercased basename; dirs tests every ancestor directory name; minSize is exclusive);
 * a set matches when any member does.
 */
export interface ClassificationRow {
  readonly class: BackgroundClass;
  readonly why: string;
  readonly names?: ReadonlySet<string>;
  readonly pattern?: RegExp;
  readonly extensions?: ReadonlySet<string>;
  readonly dirs?: ReadonlySet<string>;
  readonly minSize?: number;
}

const set = (words: string): ReadonlySet<string> => new Set(words.trim().split(/\s+/));

/** Evaluated top to bottom, first match wins; no match is 'other'. */
export const CLASSIFICATION_ROWS: readonly ClassificationRow[] = [
  {
    class: 'manifest', why: 'package manifests and lock files, whatever their size',
    names: set(`package.json package-lock.json npm-shrinkwrap.json yarn.lock pnpm-lock.yaml
      pnpm-workspace.yaml bun.lockb deno.json deno.jsonc deno.lock lerna.json nx.json turbo.json rush.json
      go.mod go.sum go.work go.work.sum cargo.toml cargo.lock pyproject.toml setup.py setup.cfg
      pipfile pipfile.lock poetry.lock uv.lock constraints.txt gemfile gemfile.lock pom.xml
      build.gradle build.gradle.kts settings.gradle settings.gradle.kts gradle.properties
      composer.json composer.lock mix.exs mix.lock package.swift package.resolved podfile podfile.lock
      pubspec.yaml pubspec.lock cmakelists.txt meson.build build.bazel module.bazel workspace
      workspace.bazel flake.nix flake.lock stack.yaml cabal.project packages.config
      directory.build.props directory.packages.props`),
  },
  { class: 'manifest', why: 'requirements*.txt', pattern: /^requirements[\w.-]*\.txt$/ },
  { class: 'manifest', why: 'per-project manifests named after the project', extensions: set('gemspec csproj fsproj vbproj sln cabal nimble') },
  { class: 'bulk', why: 'large blobs', minSize: LARGE_BLOB_BYTES },
  {
    class: 'bulk', why: 'known binary formats',
    extensions: set(`png jpg jpeg gif bmp ico icns webp avif tif tiff psd heic svgz pdf zip gz tgz
      bz2 xz zst 7z rar tar jar war ear aar apk ipa dmg iso img bin dat wasm so dylib dll exe o a lib
      obj class pyc pyo whl egg node woff woff2 ttf otf eot mp3 mp4 m4a m4v mov avi mkv webm ogg
      flac wav aac mid sqlite db pack idx npy npz pkl pt onnx h5 parquet`),
  },
  {
    class: 'config', why: 'well-known configuration files',
    names: set(`.gitignore .gitattributes .gitmodules .mailmap .editorconfig .npmrc .nvmrc .yarnrc
      .node-version .python-version .ruby-version .tool-versions .dockerignore .prettierignore
      .eslintignore .env.example makefile gnumakefile dockerfile containerfile justfile rakefile
      procfile vagrantfile jenkinsfile codeowners`),
  },
  { class: 'config', why: 'rc files and Dockerfile variants', pattern: /^(\.[\w.-]*rc(\.\w+)?|dockerfile\.[\w.-]+|[\w.-]+\.dockerfile)$/ },
  {
    class: 'config', why: 'configuration formats',
    extensions: set('json jsonc json5 yaml yml toml ini cfg conf properties env xml plist mk cmake bazel bzl nix'),
  },
  {
    class: 'source', why: 'source code',
    extensions: set(`ts tsx mts cts js mjs cjs jsx go rs py pyi rb java kt kts c h cc cpp cxx hh hpp
      hxx m mm cs fs vb swift php scala sc clj cljs ex exs erl hrl hs lua pl pm r jl dart zig nim
      ml mli elm sh bash zsh fish ps1 bat sql vue svelte astro css scss sass less styl html htm
      proto graphql gql thrift avsc tf hcl sol v sv vhd asm s cu glsl wgsl`),
  },
  {
    class: 'docs', why: 'README, LICENSE and friends',
    pattern: /^(readme|license|licence|copying|notice|authors|contributors|contributing|changelog|changes|history|security|code_of_conduct)([.-].*)?$/,
  },
  { class: 'docs', why: 'documentation formats', extensions: set('md mdx markdown rst txt adoc asciidoc org textile rdoc pod') },
  { class: 'config', why: 'files in tool configuration directories', dirs: set('.github .circleci .husky .vscode .devcontainer .config') },
];

/** The row that classifies `path` (repository-relative, '/'-separated), or undefined ('other'). */
export function matchRow(path: string, size: number): ClassificationRow | undefined {
  const slash = path.lastIndexOf('/');
  const base = path.slice(slash + 1).toLowerCase();
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot + 1) : '';
  for (const row of CLASSIFICATION_ROWS) {
    if (row.minSize !== undefined && !(size > row.minSize)) continue;
    if (row.names !== undefined && !row.names.has(base)) continue;
    if (row.pattern !== undefined && !row.pattern.test(base)) continue;
    if (row.extensions !== undefined && !row.extensions.has(ext)) continue;
    if (row.dirs !== undefined && !hasAncestor(path, slash, row.dirs)) continue;
    return row;
  }
  return undefined;
}

/** Background priority of a blob from its path and size (-1: unknown, never 'large'). */
export function classify(path: string, size: number): Priority {
  return PRIORITY[matchRow(path, size)?.class ?? 'other'];
}

function hasAncestor(path: string, slash: number, dirs: ReadonlySet<string>): boolean {
  if (slash < 0) return false;
  return path.slice(0, slash).split('/').some((d) => dirs.has(d.toLowerCase()));
}
