//! Screenshots for docs/screenshots/: rewritten only when the picture changed meaningfully (pixel comparison in the browser itself).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { REPO } from './fixtures.mjs';

export const SCREENSHOT_DIR = join(REPO, 'docs/screenshots');

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

/** Take a screenshot of `t.page` and write docs/screenshots/<name> unless it is practically the same as the file there. */
export async function saveScreenshot(t, name, options = {}) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, name);
  const shot = await t.page.screenshot({ animations: 'disabled', ...options });
  let verdict = 'new';
  if (existsSync(path)) {
    const share = await difference(t.page.context(), readFileSync(path), shot);
    if (share <= CHANGED_SHARE) {
      t.log(`screenshot ${name}: unchanged (${(share * 100).toFixed(2)}% pixels differ), kept`);
      return path;
    }
    verdict = `${(share * 100).toFixed(2)}% pixels differ`;
  }
  writeFileSync(path, shot);
  t.log(`screenshot ${name}: written (${verdict})`);
  return path;
}
