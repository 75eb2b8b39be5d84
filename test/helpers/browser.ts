import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium, installed by .ci/run (playwright's own browser download is out of reach here). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless Debian Chromium for the page tests. The machine has no network: no QUIC, no background fetches, no
 * component updates (without these flags Chromium's own connections are refused, many at a time).
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
