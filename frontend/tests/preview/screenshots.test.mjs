//! node:test for where the browser tests write screenshots: with CI=true into a git-ignored folder, never over tracked files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

import { REPO } from '../browser/fixtures.mjs';
import { CI_SCREENSHOT_DIR, DOCS_SCREENSHOT_DIR, screenshotDir } from '../browser/screenshots.mjs';

const git = (...args) => spawnSync('git', ['-C', REPO, ...args], { encoding: 'utf8' });

test('CI=true (or 1) picks the CI folder; anything else keeps docs/screenshots/', () => {
  assert.equal(screenshotDir({ CI: 'true' }), CI_SCREENSHOT_DIR);
  assert.equal(screenshotDir({ CI: '1' }), CI_SCREENSHOT_DIR);
  for (const env of [{}, { CI: '' }, { CI: 'false' }, { CI: '0' }]) {
    assert.equal(screenshotDir(env), DOCS_SCREENSHOT_DIR, JSON.stringify(env));
  }
  assert.notEqual(CI_SCREENSHOT_DIR, DOCS_SCREENSHOT_DIR);
});

test('the CI folder is git-ignored and holds no tracked file; the docs pictures are tracked', () => {
  const probe = join(CI_SCREENSHOT_DIR, 'ping-panel.png');
  const ignored = git('check-ignore', '-q', '--no-index', probe);
  assert.equal(ignored.status, 0, `${probe} is not git-ignored: ${ignored.stderr}`);
  assert.equal(git('ls-files', '--', CI_SCREENSHOT_DIR).stdout, '');
  assert.notEqual(git('ls-files', '--', DOCS_SCREENSHOT_DIR).stdout, '');
});
