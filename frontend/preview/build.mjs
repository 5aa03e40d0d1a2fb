//! Bundles the preview host app (preview/host/main.tsx, with React and @grafana/* inside: it plays Grafana) into preview/build/.
import { build } from 'esbuild';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const OUT_DIR = join(here, 'build');

export async function buildHost({ minify = true } = {}) {
  const started = performance.now();
  mkdirSync(OUT_DIR, { recursive: true });
  await build({
    entryPoints: { host: join(here, 'host/main.tsx') },
    outdir: OUT_DIR,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify,
    sourcemap: minify ? false : 'linked',
    jsx: 'automatic',
    loader: { '.svg': 'file', '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.eot': 'file', '.png': 'file' },
    publicPath: '/preview/build',
    // SystemJS (loaded first, as in Grafana) installs a global AMD `define`: bundled UMD code must not use it.
    define: { define: 'undefined', 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
    logLevel: 'warning',
  });
  // index.html links host.css; keep it present even if no bundled module imports CSS.
  const css = join(OUT_DIR, 'host.css');
  if (!existsSync(css)) {
    writeFileSync(css, '/* no bundled CSS */\n');
  }
  return { ms: performance.now() - started, dir: OUT_DIR };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await buildHost({ minify: !process.argv.includes('--dev') });
  console.log(`preview host built into ${r.dir} in ${(r.ms / 1000).toFixed(2)} s`);
}
