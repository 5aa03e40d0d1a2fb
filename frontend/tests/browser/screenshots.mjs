//! Screenshots for docs/screenshots/ (rewritten only when the picture changed meaningfully), or with CI=true for a git-ignored folder.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { FRONTEND, REPO } from './fixtures.mjs';

/** The tracked pictures the README shows; a developer's run refreshes them. */
export const DOCS_SCREENSHOT_DIR = join(REPO, 'docs/screenshots');
/** Where a CI run writes its pictures instead: git-ignored (frontend/.gitignore `test-results/`), so CI never rewrites tracked files. */
export const CI_SCREENSHOT_DIR = join(FRONTEND, 'test-results/screenshots');

/** Whether this is a CI run (`.ci/run` sets `CI=true`). */
export function isCi(env = process.env) {
  return /^(true|1)$/i.test(env.CI ?? '');
}

/** The folder screenshots are written to: the git-ignored one in CI or for a second Grafana set, docs/screenshots/ otherwise. */
export function screenshotDir(env = process.env) {
  return isCi(env) || env.NATSMICRO_GRAFANA_SET ? CI_SCREENSHOT_DIR : DOCS_SCREENSHOT_DIR;
}

/** Share of pixels that may differ before a file is rewritten: random instance ids and live round-trip times alone change ~1-2 %. */
const CHANGED_SHARE = 0.02;

/** Fraction of differing pixels between two PNGs, or 1 when their sizes differ; decoded with canvas in a blank page. */
async function difference(context, a, b) {
  const page = await context.newPage();
  try {
    return await page.evaluate(
      async ([x, y]) => {
        const load = async (b64) => createImageBitmap(await (await fetch(`data:image/png;base64,${b64}`)).blob());
        const [ia, ib] = await Promise.all([load(x), load(y)]);
        if (ia.width !== ib.width || ia.height !== ib.height) {
          return 1;
        }
        const pixels = (img) => {
          const c = new OffscreenCanvas(img.width, img.height);
          const g = c.getContext('2d');
          g.drawImage(img, 0, 0);
          return g.getImageData(0, 0, img.width, img.height).data;
        };
        const [pa, pb] = [pixels(ia), pixels(ib)];
        let differ = 0;
        for (let i = 0; i < pa.length; i += 4) {
          if (
            Math.abs(pa[i] - pb[i]) > 24 ||
            Math.abs(pa[i + 1] - pb[i + 1]) > 24 ||
            Math.abs(pa[i + 2] - pb[i + 2]) > 24
          ) {
            differ++;
          }
        }
        return differ / (pa.length / 4);
      },
      [a.toString('base64'), b.toString('base64')]
    );
  } finally {
    await page.close();
  }
}

/**
 * Take a screenshot of `t.page`. Outside CI: write docs/screenshots/<name> unless it is practically the same as the
 * file there. In CI: always write it to the git-ignored folder, and tell how far it is from the tracked picture.
 */
export async function saveScreenshot(t, name, options = {}) {
  const dir = screenshotDir();
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  const tracked = join(DOCS_SCREENSHOT_DIR, name);
  const shot = await t.page.screenshot({ animations: 'disabled', ...options });
  let verdict = 'new';
  if (existsSync(tracked)) {
    const share = await difference(t.page.context(), readFileSync(tracked), shot);
    if (share <= CHANGED_SHARE && path === tracked) {
      t.log(`screenshot ${name}: unchanged (${(share * 100).toFixed(2)}% pixels differ), kept`);
      return path;
    }
    verdict = `${(share * 100).toFixed(2)}% pixels differ from ${relative(REPO, tracked)}`;
  }
  writeFileSync(path, shot);
  t.log(`screenshot ${name}: written to ${relative(REPO, path)} (${verdict})`);
  return path;
}
