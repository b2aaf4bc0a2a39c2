// Debian's chromium (.ci/install-chromium.sh) driven by puppeteer-core, for the console's browser
// test: headless, no sandbox (tests may run as root in a container), no shared-memory limit.
// Nothing here depends on vitest.

import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';

export const CHROMIUM_PATH = process.env.DBK_TEST_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Where a browser test writes its screenshots, if told: read when this module loads, because
 * test/support/engine.ts clears the DBK_ variables (all but the test tools' paths) when it loads.
 */
export const SCREENSHOTS_DIR = process.env.DBK_SCREENSHOTS;

/**
 * Why chromium cannot run here, or undefined when it can. Under CI a missing chromium is an
 * error, so a CI run can never pass by skipping the browser test.
 */
export function chromiumUnavailable(): string | undefined {
  if (existsSync(CHROMIUM_PATH)) return undefined;
  const why = `${CHROMIUM_PATH} not found: install chromium (.ci/install-chromium.sh) to run the console's browser test`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(why);
  console.warn(`skipping browser tests: ${why}`);
  return why;
}

export function launchChromium(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--headless=new', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--no-default-browser-check'],
  });
}
