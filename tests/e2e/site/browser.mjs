// The public site in headless Chromium (puppeteer-core pointed at the system's chromium), run by
// tests/e2e/python/test_site_browser.py against a real chengxind holding site_fixture.py's
// store. JavaScript is off in the page, as for a visitor without it: every flow must work.
// Screenshots: $CX_SCREENSHOT_DIR/*.png (docs/site.md). Exit 0 when every check holds.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const puppeteer = require('puppeteer-core');

const base = process.env.CX_SITE_URL;
const shots = process.env.CX_SCREENSHOT_DIR;
const fix = JSON.parse(process.env.CX_FIXTURE);
const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
};

const browser = await puppeteer.launch({
  executablePath: process.env.CX_CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--font-render-hinting=none', '--lang=zh-CN'],
});
const consoleErrors = [];
const seenText = []; // [url, text] of every page shown: nothing hidden may be in any
try {
  const page = await browser.newPage();
  await page.setJavaScriptEnabled(false);
  await page.setViewport({ width: 1280, height: 900 });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('dialog', async (d) => { consoleErrors.push(`dialog: ${d.message()}`); await d.dismiss(); });
  page.on('requestfailed', (r) => consoleErrors.push(`request failed: ${r.url()}`));
  page.on('response', (r) => { if (r.status() >= 400) consoleErrors.push(`${r.status()} ${r.url()}`); });
  const shot = async (name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  const remember = async () => seenText.push([page.url(), await page.content()]);
  const nav = async (fn) => { await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), fn()]); await remember(); };

  // 1. the home page, then a search by a middle part of the name (the keyword index).
  await page.goto(`${base}/`, { waitUntil: 'load' });
  await remember();
  check((await page.$('label[for="q"]')) !== null, 'the search box has a label');
  await shot('home');
  await page.type('#q', fix.part);
  await nav(() => page.click('button[type="submit"]'));
  check(page.url().includes('/search?q='), `searched: ${page.url()}`);
  const hit = await page.$(`a[href="/entity/${fix.ent}"]`);
  check(hit !== null, 'the entity is among the results');
  check((await page.$eval('.results', (e) => e.textContent)).includes(fix.ent), 'results show the code');
  await shot('search');

  // 2. the entity page
  await nav(() => hit.click());
  check((await page.$eval('h1', (e) => e.textContent)) === fix.ent_name, 'entity page: the name');
  const body = await page.$eval('main', (e) => e.innerText);
  for (const s of ['基本信息', '统一社会信用代码', '严重失信主体名单', '守信激励（红名单）', '当前状态'])
    check(body.includes(s), `entity page shows ${s}`);
  await shot('entity');

  // 3. switch tabs, page through the penalties
  const tab = async (label) => {
    const links = await page.$$('.tabs a');
    for (const a of links) if ((await a.evaluate((e) => e.textContent)).startsWith(label)) return nav(() => a.click());
    throw new Error(`no tab ${label}`);
  };
  await tab('行政处罚');
  check(page.url().includes('tab=penalty'), 'the penalty tab');
  check((await page.$('.tabs a[aria-current="page"]')) !== null, 'the current tab is marked');
  const n1 = (await page.$$('article.rec')).length;
  check(n1 === 10, `first page: 10 records (${n1})`);
  check((await page.$eval('main', (e) => e.innerText)).includes(fix.hostile), 'hostile content shown as text');
  await shot('entity-penalty');
  await nav(() => page.click('a[rel="next"]'));
  const n2 = (await page.$$('article.rec')).length;
  check(n2 === fix.penalties + 1 - 10, `second page: the rest (${n2})`);
  check((await page.$('a[rel="next"]')) === null, 'the last page has no next link');
  await shot('entity-penalty-page2');
  await tab('严重失信主体名单');
  check((await page.$eval('main', (e) => e.innerText)).includes('失信被执行人'), 'blacklist tab: the list name');
  await shot('entity-blacklist');
  for (const label of ['行政许可', '守信激励', '信用承诺']) await tab(label); // each tab renders

  // 4. the report, on screen and as printed; the PDF
  await nav(() => page.click(`a[href="/report/${fix.ent}"]`));
  const rep = await page.$eval('main', (e) => e.innerText);
  check(rep.includes('信用报告') && /CX-\d{8}-[0-9A-F]{16}/.test(rep), 'report: title and number');
  await shot('report');
  await page.emulateMediaType('print');
  await shot('report-print');
  check(await page.$eval('.top', (e) => getComputedStyle(e).display === 'none'), 'print CSS hides the header');
  await page.emulateMediaType('screen');
  const res = await fetch(`${base}/report/${fix.ent}.pdf`);
  const pdf = Buffer.from(await res.arrayBuffer());
  check(res.status === 200 && res.headers.get('content-type') === 'application/pdf', 'PDF: 200 application/pdf');
  check(pdf.subarray(0, 5).toString() === '%PDF-', 'PDF: starts with %PDF-');
  fs.writeFileSync(path.join(shots, 'report.pdf'), pdf);
  try {
    const text = execFileSync('pdftotext', [path.join(shots, 'report.pdf'), '-']).toString();
    check(text.includes(fix.ent_name), 'PDF: holds the name (pdftotext)');
    seenText.push(['report.pdf', text]);
  } catch (e) {
    console.log(`pdftotext not usable (${e.code || e.message}): PDF header checked only`);
  }

  // 5. the operator's pages
  await nav(() => page.click('a[href="/repair"]'));
  check((await page.$eval('main', (e) => e.innerText)).includes('0591-12345678'), 'repair page: the contacts');
  await shot('repair');
  await nav(() => page.click('a[href="/objection"]'));
  await shot('objection');

  // 6. a hostile name: shown as text, no markup, no script
  await page.goto(`${base}/entity/${fix.odd}`, { waitUntil: 'load' });
  await remember();
  check((await page.$eval('h1', (e) => e.textContent)) === fix.odd_name, 'a name holding HTML is shown as text');
  check((await page.$$('main b')).length === 0, 'no markup from the name');

  // 7. 360 px wide: no horizontal scrolling
  await page.setViewport({ width: 360, height: 740, deviceScaleFactor: 2 });
  for (const [p, name] of [['/', 'home-360'], [`/entity/${fix.ent}?tab=penalty`, 'entity-360'],
                           [`/search?q=${encodeURIComponent(fix.prefix)}`, 'search-360'], [`/report/${fix.ent}`, 'report-360']]) {
    await page.goto(`${base}${p}`, { waitUntil: 'load' });
    await remember();
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    check(w <= 360, `${p} fits 360 px (${w})`);
    await shot(name);
  }

  // 8. no console errors, nothing hidden on any page the browser showed
  check(consoleErrors.length === 0, `no console errors: ${JSON.stringify(consoleErrors)}`);
  for (const [u, t] of seenText)
    for (const m of [...fix.hidden, 'HIDDEN-', fix.person_name])
      if (t.includes(m)) check(false, `${u} shows hidden ${m}`);
  check(seenText.length >= 15, `hidden markers on none of ${seenText.length} pages`);

  // the hidden person: the same 404 as an unknown code (out of the page: a 404 logs a console error)
  const a = await fetch(`${base}/entity/${fix.person}`), b = await fetch(`${base}/entity/91350100123456788Q`);
  check(a.status === 404 && (await a.text()) === (await b.text()), 'a hidden entity is an unknown one');
  // and a 404 page, for the reviewer
  const p404 = await browser.newPage();
  await p404.setJavaScriptEnabled(false);
  await p404.setViewport({ width: 1280, height: 600 });
  await p404.goto(`${base}/entity/${fix.person}`, { waitUntil: 'load' });
  await p404.screenshot({ path: path.join(shots, 'not-found.png') });
} finally {
  await browser.close();
}
console.log(`${failures.length ? 'FAILED' : 'passed'}: ${failures.length} of the checks failed; screenshots in ${shots}`);
process.exit(failures.length ? 1 : 0);
