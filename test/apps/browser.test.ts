import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { requirement } from '../helpers/require.js';
import { startServer } from '../helpers/server.js';
import { deployHabits } from './deploy.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const chromium = requirement(CHROMIUM !== undefined, 'chromium (apt install chromium)');

describe.runIf(chromium.run)('the habit tracker in a real browser (headless Chromium via playwright-core)', () => {
  it('adds habits, survives a reload, checks one off; ?version= shows the earlier data', async () => {
    if (!CHROMIUM) throw new Error(chromium.reason);
    const { chromium: pw } = await import('playwright-core');
    const srv = await startServer();
    const agentFs = await srv.agent('web');
    await deployHabits(agentFs);
    const browser = await pw.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const base = `${srv.url}/apps/web/habits/`;
      await page.goto(base);
      await page.waitForSelector('body[data-loaded="0"]');
      for (const name of ['Drink water', 'Read 10 pages']) {
        await page.fill('#name', name);
        await page.click('button[type=submit]');
        await page.waitForFunction((n) => [...document.querySelectorAll('#list .name')].some((e) => e.textContent === n), name);
      }
      // the version after the two habits: the app database's newest commit
      const log = await (await srv.store.namespace('sql:web/habits')).log({ limit: 1 });
      const twoHabits = `${log[0]!.version.slice(0, 16)}ffff`;
      await page.fill('#name', 'Meditate');
      await page.click('button[type=submit]');
      await page.waitForSelector('body[data-loaded="3"]');
      await page.click('li[data-id="1"] button');
      await page.waitForFunction(() => document.querySelector('li[data-id="1"] .count')?.textContent === '1 check-ins');

      await page.reload();
      await page.waitForSelector('body[data-loaded="3"]');
      expect(await page.$$eval('#list .name', (els) => els.map((e) => e.textContent))).toEqual(['Drink water', 'Read 10 pages', 'Meditate']);
      expect(await page.textContent('li[data-id="1"] .count')).toBe('1 check-ins');

      // the past, through ?version=: redirected to the @version base; the page shows the data of then
      await page.goto(`${base}?version=${twoHabits}`);
      await page.waitForSelector('body[data-loaded="2"]');
      expect(page.url()).toBe(`${srv.url}/apps/web/habits@${twoHabits}/`);
      expect(await page.$$eval('#list .name', (els) => els.map((e) => e.textContent))).toEqual(['Drink water', 'Read 10 pages']);
      expect(await page.textContent('#mode')).toBe('Viewing a past version (read-only)');
      expect(await page.isHidden('#add')).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
