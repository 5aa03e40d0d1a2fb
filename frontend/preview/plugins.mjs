//! Where the built plugins live and what Grafana would know about them (plugin.json → PluginMeta), for /public/plugins/<id>/….
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FRONTEND = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The repository; NATSMICRO_REPO when this package is a copy (scripts/grafana-set.mjs). */
export const REPO = process.env.NATSMICRO_REPO || join(FRONTEND, '..');

/**
 * Folders a plugin's files are looked up in, first match wins: the fresh frontend build (module.js),
 * the packaged dist of scripts/build.sh (plugin.json, img/, README.md), then the plugin's sources.
 */
const ROOTS = {
  'natsmicro-datasource': [join(FRONTEND, 'dist/natsmicro-datasource'), join(REPO, 'dist/natsmicro-datasource'), REPO],
  'natsmicro-ping-panel': [
    join(FRONTEND, 'dist/natsmicro-ping-panel'),
    join(REPO, 'dist/natsmicro-ping-panel'),
    join(FRONTEND, 'src/panel'),
    FRONTEND,
  ],
};

/** Files a source folder may serve (the repository root holds much more than a plugin). */
const SOURCE_FILES = /^(module\.js(\.map)?|plugin\.json|README\.md|LICENSE|CHANGELOG\.md|img\/[\w.-]+)$/;

export const PLUGIN_IDS = Object.keys(ROOTS);

/** Absolute path of `/public/plugins/<id>/<rel>`, or null. Never leaves the plugin folders. */
export function pluginFile(id, rel) {
  const roots = ROOTS[id];
  const clean = normalize(rel).replace(/^([/\\])+/, '');
  if (!roots || clean.startsWith('..') || clean.includes(`${sep}..`)) {
    return null;
  }
  for (const [i, root] of roots.entries()) {
    if (i >= 2 && !SOURCE_FILES.test(clean.split(sep).join('/'))) {
      continue;
    }
    const p = join(root, clean);
    if (p.startsWith(root) && existsSync(p) && statSync(p).isFile()) {
      return p;
    }
  }
  return null;
}

function readPluginJson(id) {
  const p = pluginFile(id, 'plugin.json');
  if (p) {
    try {
      return JSON.parse(readFileSync(p, 'utf8'));
    } catch {
      // fall through to the minimal manifest
    }
  }
  const panel = id.endsWith('-panel');
  return { id, type: panel ? 'panel' : 'datasource', name: id, backend: !panel, info: {} };
}

/** PluginMeta as Grafana hands it to the frontend (boot data and /api/plugins/:id/settings). */
export function pluginMeta(id) {
  const j = readPluginJson(id);
  const base = `public/plugins/${id}`;
  const logo = (l) => (l ? (/^(https?:)?\//.test(l) ? l : `${base}/${l}`) : `${base}/img/logo.svg`);
  const info = j.info ?? {};
  return {
    ...j,
    id,
    type: j.type,
    name: j.name ?? id,
    module: `${base}/module.js`,
    baseUrl: base,
    info: {
      ...info,
      author: info.author ?? { name: '' },
      description: info.description ?? '',
      links: info.links ?? [],
      logos: { small: logo(info.logos?.small), large: logo(info.logos?.large) },
      screenshots: info.screenshots ?? [],
      version: /%VERSION%/.test(info.version ?? '') ? 'dev' : (info.version ?? 'dev'),
      updated: /%TODAY%/.test(info.updated ?? '') ? '' : (info.updated ?? ''),
    },
  };
}

/** Whether the frontend build exists (module.js of every plugin). */
export function missingBuilds() {
  return PLUGIN_IDS.filter((id) => !existsSync(join(FRONTEND, 'dist', id, 'module.js')));
}
