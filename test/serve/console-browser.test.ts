// The web console in a real browser: Debian's chromium, headless through puppeteer-core, against
// `dbk serve` on 127.0.0.1 over a storage with two snapshot ids: one with two revisions of a small
// tree, days apart, and one whose last backup is 12 days old (stale). It logs in with the printed
// URL, sees the overview's charts and the stale id, opens a revision and browses two folders deep
// (mouse, then keyboard), downloads a file and compares its bytes, plans a prune and sees the plan,
// runs a backup whose progress it follows to the end, and restores a ticked file into a folder of
// the repository. Screenshots of the main pages go to $DBK_SCREENSHOTS, else to a folder in the
// temp dir, named on the output; `DBK_SCREENSHOTS=docs` makes the README's.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, CDPSession, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { backup } from '../../src/commands/backup.js';
import { type RunningServer, startServer } from '../../src/serve/server.js';
import { chromiumUnavailable, launchChromium, SCREENSHOTS_DIR } from '../support/chromium.js';
import { joinRepo, makeRepo, put, seededBytes, type TestRepo } from '../support/engine.js';
import { tempDir } from '../support/tmp.js';

const unavailable = chromiumUnavailable();
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WAIT = { timeout: 20_000 };
const logo = seededBytes(150_000, 'logo');
const DAY_MS = 86_400_000;

/** A backup dated `daysAgo` days back (only Date is faked, and it runs on), so the chart spans days and an id can be stale. */
async function backupDaysAgo(open: TestRepo['open'], daysAgo: number): Promise<void> {
  vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - daysAgo * DAY_MS, shouldAdvanceTime: true });
  try {
    await backup(open);
  } finally {
    vi.useRealTimers();
  }
}

/** Builds dist/console when it is missing or older than a file of console/ (npm test builds it first; a lone vitest run may not have). */
function ensureConsoleBuilt(): void {
  const bundle = path.join(root, 'dist/console/app.js');
  const built = fs.existsSync(bundle) ? fs.statSync(bundle).mtimeMs : 0;
  const sources = fs.readdirSync(path.join(root, 'console'), { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
  if (sources.some((d) => fs.statSync(path.join(d.parentPath, d.name)).mtimeMs > built)) execFileSync(process.execPath, [path.join(root, 'console/build.mjs')], { cwd: root, stdio: 'inherit' });
}

function screenshotDir(): string {
  const dir = SCREENSHOTS_DIR ? path.resolve(SCREENSHOTS_DIR) : path.join(tmpdir(), 'dbk-console-screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

describe.skipIf(unavailable)('the web console in chromium', () => {
  let repo: TestRepo;
  let server: RunningServer;
  let browser: Browser;
  let page: Page;
  let cdp: CDPSession;
  let shots: string;
  const downloads = tempDir('dbk-console-downloads-');
  const pageErrors: string[] = [];

  beforeAll(async () => {
    ensureConsoleBuilt();
    shots = screenshotDir();
    repo = await makeRepo();
    put(repo.repoDir, 'README.md', '# a small tree\n');
    put(repo.repoDir, 'docs/guide/intro.md', 'Hello from the guide.\n');
    put(repo.repoDir, 'docs/guide/logo.bin', logo);
    put(repo.repoDir, 'docs/notes.txt', 'first notes\n');
    put(repo.repoDir, 'src/lib/util.ts', 'export const one = 1;\n');
    put(repo.repoDir, 'src/main.ts', 'console.log(1);\n');
    await backupDaysAgo(repo.open, 3);
    put(repo.repoDir, 'docs/notes.txt', 'second notes, longer\n');
    put(repo.repoDir, 'docs/guide/usage.md', 'Use it.\n');
    put(repo.repoDir, 'docs/guide/screenshot.bin', seededBytes(60_000, 'screenshot'));
    await backup(repo.open);
    // a second snapshot id on the same storage, last backed up 12 days ago: stale
    const photos = await joinRepo(repo, { snapshotId: 'photos' });
    put(photos.repoDir, '2024/beach.raw', seededBytes(80_000, 'beach'));
    await backupDaysAgo(photos.open, 12);

    server = await startServer({ ...repo.open, listen: '127.0.0.1:0' });
    browser = await launchChromium();
    page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 800 });
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: 'light' }]);
    page.setDefaultTimeout(WAIT.timeout);
    page.on('pageerror', (e) => pageErrors.push(e instanceof Error ? e.message : String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
    });
    cdp = await browser.target().createCDPSession();
    await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads, eventsEnabled: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (shots) console.log(`console screenshots: ${shots}`);
  });

  const shoot = (name: string) => page.screenshot({ path: path.join(shots, `console-${name}.png`) });
  const text = (selector: string) => page.$eval(selector, (e) => e.textContent ?? '');
  const go = async (hash: string) => {
    await page.evaluate((h) => {
      location.hash = h;
    }, hash);
  };

  it('logs in with the printed URL and shows the overview, with a chart per snapshot id', async () => {
    await page.goto(server.url);
    expect(page.url()).not.toContain('token='); // the first visit set the cookie and left the token behind
    await page.waitForSelector('[data-testid="chart-test"] canvas');
    expect(await text('[data-testid="card-test"] .facts dd')).toBe('2'); // two revisions
    expect(await page.$('[data-testid="card-test"] .badge.warn')).toBeNull();
    expect(await text('[data-testid="card-photos"] .badge.warn')).toBe('stale');
    await page.waitForSelector('[data-testid="chart-photos"] canvas');
    const box = await page.$eval('[data-testid="chart-test"]', (e) => e.getBoundingClientRect().toJSON() as DOMRect);
    expect(box.height).toBeGreaterThan(150);
    await shoot('overview');
  });

  it('opens a revision and browses two folders deep, by mouse and by keyboard', async () => {
    await page.click('[data-testid="card-test"] h2 a');
    await page.waitForSelector('[data-testid="revision-row-1"]');
    expect(await page.$$('[data-testid^="revision-row-"]')).toHaveLength(2);
    await page.click('[data-testid="browse-2"]');
    await page.waitForSelector('[data-testid="entry-README.md"]');
    await page.click('[data-testid="entry-docs"] a');
    await page.waitForSelector('[data-testid="entry-notes.txt"]');
    // the cursor starts on the first entry, the guide/ folder; Enter opens it
    expect(await (await page.waitForSelector('tr.cursor'))!.evaluate((e) => e.getAttribute('data-testid'))).toBe('entry-guide');
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid="entry-usage.md"]');
    expect(await text('[data-testid="breadcrumb"]')).toMatch(/test\s*\/\s*r2\s*\/\s*docs\s*\/\s*guide/);
    await page.click('[data-testid="entry-logo.bin"] button');
    await page.waitForSelector('[data-testid="download-link"]');
    expect(await text('[data-testid="details"]')).toContain('150,000 bytes');
    await shoot('browse');
  });

  it('downloads a file byte for byte', async () => {
    const done = new Promise<void>((resolve, reject) => {
      cdp.on('Browser.downloadProgress', (e) => {
        if (e.state === 'completed') resolve();
        if (e.state === 'canceled') reject(new Error('the download was cancelled'));
      });
    });
    await page.click('[data-testid="download-link"]');
    await done;
    expect(fs.readFileSync(path.join(downloads, 'logo.bin')).equals(logo)).toBe(true);
    // Backspace goes up, with the cursor on the folder it came from
    await page.focus('[data-testid="entries"]');
    await page.keyboard.press('Backspace');
    await page.waitForSelector('[data-testid="entry-notes.txt"]');
    await page.waitForSelector('tr.cursor[data-testid="entry-guide"]');
  });

  it('plans a prune and shows the plan to confirm', async () => {
    await go('#/jobs');
    await page.type('[data-testid="prune-keep"]', '0:1');
    await page.click('[data-testid="start-prune"]');
    await page.waitForSelector('[data-testid="prune-plan"]');
    expect(await text('[data-testid="prune-plan"]')).toMatch(/dry run/);
    await page.waitForSelector('[data-testid="prune-confirm"]');
  });

  it('runs a backup and follows its progress to the end', async () => {
    put(repo.repoDir, 'data/big.bin', seededBytes(3 << 20, 'big'));
    await page.click('[data-testid="start-backup"]');
    const row = '[data-testid="jobs"] > li:first-child[data-testid="job-backup"]';
    await page.waitForSelector(row);
    await page.waitForSelector(`${row}[data-state="done"]`, { timeout: 45_000 });
    expect(await text(`${row} [data-testid="job-summary"]`)).toMatch(/^revision 3 of 'test' saved/);
    const progress = await page.$eval(`${row} [data-testid="job-progress"]`, (e) => [e.getAttribute('data-done'), e.getAttribute('data-total')]);
    expect(progress[0]).not.toBeNull();
    expect(progress[0]).toBe(progress[1]); // the bar is full
    await shoot('jobs');
    // the overview, computed anew after the backup, counts the third revision
    await go('#/overview');
    await page.waitForFunction(() => document.querySelector('[data-testid="card-test"] .facts dd')?.textContent === '3', WAIT);
  });

  it('restores the ticked entries into a folder inside the repository', async () => {
    await go('#/browse/test/1/docs');
    await page.waitForSelector('[data-testid="entry-notes.txt"]');
    await page.click('[data-testid="entry-notes.txt"] input[type="checkbox"]');
    expect(await text('[data-testid="restore-open"]')).toBe('Restore 1 selected…');
    await page.click('[data-testid="restore-open"]');
    await page.type('dialog[open] [data-testid="restore-target"]', 'restored/r1');
    await page.click('[data-testid="restore-start"]');
    const row = '[data-testid="jobs"] > li:first-child[data-testid="job-restore"]';
    await page.waitForSelector(`${row}[data-state="done"]`, { timeout: 45_000 });
    expect(await text(`${row} [data-testid="job-summary"]`)).toMatch(/^restored 1 files .* into restored\/r1;/);
    expect(fs.readFileSync(path.join(repo.repoDir, 'restored/r1/docs/notes.txt'), 'utf8')).toBe('first notes\n');
    expect(fs.existsSync(path.join(repo.repoDir, 'restored/r1/docs/guide'))).toBe(false);
  });

  it("lists the logs and shows one (the prune's)", async () => {
    await go('#/logs');
    const link = await page.waitForSelector('[data-testid^="log-prune-"]');
    await link!.click();
    expect(await (await page.waitForSelector('[data-testid="log-text"]'))!.evaluate((e) => e.textContent)).toMatch(/dry run/);
    // nothing went wrong on the way: no script error, no failed request, no error bar
    expect(pageErrors).toEqual([]);
    expect(await page.$('[data-testid="error-bar"]')).toBeNull();
  });
});
