//! Summarises a V8 CPU profile of the render bench: self time by original function (through the bundles' source maps) and by package, plus inclusive time of the panel's own functions.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

/** Decode a source map v3 `mappings` string into, per generated line, segments [col, src, line, col, name?]. */
function decodeMappings(mappings) {
  const lines = [];
  let src = 0;
  let srcLine = 0;
  let srcCol = 0;
  let name = 0;
  for (const text of mappings.split(';')) {
    const segs = [];
    let genCol = 0;
    for (const seg of text.split(',')) {
      if (!seg) {
        continue;
      }
      const vals = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = B64_INDEX.get(ch);
        value += (digit & 31) << shift;
        if (digit & 32) {
          shift += 5;
        } else {
          vals.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += vals[0];
      if (vals.length >= 4) {
        src += vals[1];
        srcLine += vals[2];
        srcCol += vals[3];
        if (vals.length >= 5) {
          name += vals[4];
          segs.push([genCol, src, srcLine, srcCol, name]);
        } else {
          segs.push([genCol, src, srcLine, srcCol]);
        }
      }
    }
    lines.push(segs);
  }
  return lines;
}

/** A lookup (0-based generated line/column) → { source, line (1-based), name, text of that source line }. */
function sourceMap(map, lineOffset = 0) {
  const lines = decodeMappings(map.mappings);
  const contents = (map.sourcesContent ?? []).map((c) => (c ? c.split('\n') : []));
  return (line, col) => {
    const segs = lines[line - lineOffset];
    if (!segs || !segs.length) {
      return undefined;
    }
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid][0] <= col) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    const s = segs[lo][0] <= col ? segs[lo] : segs[0];
    return {
      source: map.sources[s[1]],
      line: s[2] + 1,
      name: s.length >= 5 ? map.names[s[4]] : undefined,
      text: contents[s[1]]?.[s[2]] ?? '',
    };
  };
}

/** Package of a bundled source path: `react-dom`, `@grafana/ui`, or `panel src` / `bench` for our own. */
function packageOf(source) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source);
  if (m) {
    return m[1];
  }
  if (/(^|\/)bench\//.test(source)) {
    return 'bench data generation (untimed)';
  }
  if (/(^|\/)src\//.test(source)) {
    return 'panel (src/)';
  }
  return source.replace(/^(\.\.\/)+/, '');
}

/** The name of the function defined on a source line, when the map carries none. */
function nameFromLine(text) {
  const m =
    /function\s*\*?\s*([\w$]+)/.exec(text) ??
    /(?:const|let|var)\s+([\w$]+)\s*=/.exec(text) ??
    /^\s*(?:async\s+|get\s+|private\s+|static\s+)*([\w$]+)\s*\(/.exec(text) ??
    /([\w$]+)\s*[:=]\s*(?:\([^)]*\)|[\w$]+)\s*=>/.exec(text);
  return m?.[1];
}

function top(map, n) {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

/**
 * @param {object} profile Profiler.stop's profile
 * @param {number} renders renders (first + updates) in the profile, for per-render figures
 * @param {{pageMap: object, moduleJs: string, moduleMap: object}} maps bench page bundle map; built module.js and its map
 */
export function profileSummary(profile, renders, { pageMap, moduleJs, moduleMap }) {
  // module.js is esbuild's output wrapped in an AMD prelude (scripts/build.mjs): the map's line 0 is after it.
  const prelude = moduleJs.split('\n').findIndex((l) => l.startsWith('  (function (module, exports, require) {')) + 1;
  const lookPage = sourceMap(pageMap);
  const lookModule = sourceMap(moduleMap, prelude);

  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
  const label = new Map();
  const pkg = new Map();
  const ours = new Map();
  for (const n of profile.nodes) {
    const cf = n.callFrame;
    let name = cf.functionName || '(anonymous)';
    let where = cf.url ? cf.url.replace(/^https?:\/\/[^/]+/, '') : '';
    let group = name.startsWith('(') ? name : 'other';
    const look = cf.url.endsWith('/module.js') ? lookModule : cf.url.endsWith('/page.js') ? lookPage : undefined;
    const o = look?.(cf.lineNumber, cf.columnNumber);
    if (o) {
      group = packageOf(o.source);
      const isOurs = group === 'panel (src/)';
      name = (isOurs && nameFromLine(o.text)) || o.name || cf.functionName || '(anonymous)';
      where = `${o.source.replace(/^(\.\.\/)+/, '').replace(/^.*node_modules\//, '')}:${o.line}`;
      if (isOurs) {
        ours.set(n.id, `${name} (${where})`);
      }
    } else if (cf.url.endsWith('/module.js')) {
      group = 'panel (src/)';
    }
    label.set(n.id, where ? `${name} (${where})` : name);
    pkg.set(n.id, group);
  }

  // Idle (waiting for frames and for the test driver) is not work; percentages are of the busy time.
  for (const [id] of self) {
    if (label.get(id) === '(idle)') {
      self.delete(id);
    }
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byLabel = new Map();
  const byPkg = new Map();
  for (const [id, t] of self) {
    byLabel.set(label.get(id), (byLabel.get(label.get(id)) ?? 0) + t);
    byPkg.set(pkg.get(id), (byPkg.get(pkg.get(id)) ?? 0) + t);
  }

  // Inclusive time of the panel's own functions (each sample counted once per distinct function on its stack).
  const parent = new Map();
  for (const n of profile.nodes) {
    for (const c of n.children ?? []) {
      parent.set(c, n.id);
    }
  }
  const inclusive = new Map();
  for (const [id, t] of self) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const l = ours.get(cur);
      if (l && !seen.has(l)) {
        seen.add(l);
        inclusive.set(l, (inclusive.get(l) ?? 0) + t);
      }
    }
  }

  const pct = (t) => `${((100 * t) / total).toFixed(1).padStart(5)} %`;
  const fmt = (t) => `${(t / renders).toFixed(1).padStart(6)} ms/render`;
  const text = [
    `busy time ${(total / renders).toFixed(0)} ms per render (idle excluded); self time by package / category:`,
    ...top(byPkg, 8).map(([k, t]) => `  ${fmt(t)} ${pct(t)}  ${k}`),
    'top self time by function:',
    ...top(byLabel, 12).map(([k, t]) => `  ${fmt(t)} ${pct(t)}  ${k}`),
    "inclusive time of the panel's own functions:",
    ...top(inclusive, 10).map(([k, t]) => `  ${fmt(t)} ${pct(t)}  ${k}`),
  ].join('\n');
  const [first] = top(byPkg, 1);
  const verdict = first ? `Top cost: ${first[0]} (${pct(first[1]).trim()} of busy time).` : '';
  return {
    text,
    busyMs: total,
    verdict,
    byPkg: top(byPkg, 8),
    byLabel: top(byLabel, 12),
    inclusive: top(inclusive, 8),
  };
}
