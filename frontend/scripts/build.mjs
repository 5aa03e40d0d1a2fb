//! Bundles both plugins into AMD `module.js` files the way Grafana loads them (SystemJS + AMD),
//! with Grafana's shared dependencies left external. Output: dist/<plugin id>/module.js (+ .map).
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Provided by Grafana at run time (its shared-module map); never bundled.
 * `@grafana/schema` is not in that map: it is used for types only, which the build erases.
 */
export const SHARED = [
  'react',
  'react-dom',
  '@grafana/data',
  '@grafana/ui',
  '@grafana/runtime',
  '@emotion/css',
  '@emotion/react',
  'rxjs',
  'rxjs/operators',
  'lodash',
  'moment',
];

export const PLUGINS = [
  { id: 'natsmicro-datasource', entry: 'src/datasource/module.ts' },
  { id: 'natsmicro-ping-panel', entry: 'src/panel/module.ts' },
];

/** Wrap a CommonJS bundle into an AMD module whose dependencies are exactly the shared modules it imports. */
function amd(code, deps) {
  const list = JSON.stringify(deps);
  return [
    `define(${list}, function () {`,
    '  var __shared = {};',
    `  for (var i = 0; i < ${deps.length}; i++) { __shared[${list}[i]] = arguments[i]; }`,
    '  var require = function (name) {',
    '    if (Object.prototype.hasOwnProperty.call(__shared, name)) { return __shared[name]; }',
    '    throw new Error("natsmicro: module " + name + " is not provided by Grafana");',
    '  };',
    '  var module = { exports: {} };',
    '  (function (module, exports, require) {',
    code,
    '  })(module, module.exports, require);',
    '  return module.exports;',
    '});',
    '',
  ].join('\n');
}

export async function buildAll({ outDir = join(root, 'dist'), minify = true } = {}) {
  const results = [];
  for (const p of PLUGINS) {
    const started = performance.now();
    const out = await build({
      entryPoints: [join(root, p.entry)],
      bundle: true,
      format: 'cjs',
      platform: 'browser',
      target: 'es2020',
      minify,
      sourcemap: 'external',
      write: false,
      metafile: true,
      external: SHARED,
      // Classic JSX against the shared React: `react/jsx-runtime` is not one of Grafana's shared modules everywhere.
      jsx: 'transform',
      jsxFactory: 'React.createElement',
      jsxFragment: 'React.Fragment',
      inject: [join(root, 'scripts/react-shim.js')],
      tsconfigRaw: { compilerOptions: { jsx: 'react' } },
      outfile: join(outDir, p.id, 'module.js'),
      // SystemJS installs a global `define`; bundled UMD code must not register through it.
      define: { define: 'undefined', 'process.env.NODE_ENV': '"production"' },
      logLevel: 'warning',
    });
    const imported = new Set();
    for (const o of Object.values(out.metafile.outputs)) {
      for (const i of o.imports) {
        if (i.external) {
          imported.add(i.path);
        }
      }
    }
    const deps = SHARED.filter((d) => imported.has(d));
    // A runtime import of a module Grafana does not share would be bundled: for @grafana/schema
    // that means a second copy of Grafana's types at run time, so refuse it.
    const schemaCode = Object.keys(out.metafile.inputs).filter((f) => f.includes('node_modules/@grafana/schema/'));
    if (schemaCode.length) {
      throw new Error(
        `${p.id}: @grafana/schema is imported at run time (${schemaCode[0]}); import its types with \`import type\``
      );
    }
    const dir = join(outDir, p.id);
    mkdirSync(dir, { recursive: true });
    for (const f of out.outputFiles) {
      if (f.path.endsWith('.js')) {
        writeFileSync(f.path, amd(f.text, deps));
      } else {
        writeFileSync(f.path, f.contents);
      }
    }
    const file = join(dir, 'module.js');
    results.push({ id: p.id, file, bytes: statSync(file).size, deps, ms: performance.now() - started });
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  const results = await buildAll();
  for (const r of results) {
    console.log(`${r.id}: ${r.file} ${(r.bytes / 1024).toFixed(1)} KiB, shared: ${r.deps.join(' ')}`);
  }
  console.log(`frontend built in ${((performance.now() - started) / 1000).toFixed(2)} s`);
  // Keep the version of the package in step with the crate when asked (scripts/build.sh passes it).
  if (process.env.NATSMICRO_VERSION) {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    if (pkg.version !== process.env.NATSMICRO_VERSION) {
      console.log(`note: frontend/package.json version ${pkg.version} differs from ${process.env.NATSMICRO_VERSION}`);
    }
  }
}
