// The web UI in a real browser: Debian's /usr/bin/chromium (or, with WEBUI_BROWSER=firefox,
// /usr/bin/firefox-esr over WebDriver BiDi), headless, driven by puppeteer-core.
// Run by tests/integration/test_web_ui.py, which starts the servers, sends the mail and sessions,
// and passes what to expect in the environment:
//   WEBUI_BASE          the page's URL (http://127.0.0.1:PORT/)
//   WEBUI_SMTP_PORT     the SMTP port of that server (for the live message sent from here)
//   WEBUI_SUBJECT       the subject of the HTML message already sent
//   WEBUI_HTML_TEXT     text the HTML part shows
//   WEBUI_ATTACHMENT    "FILENAME:BASE64" of the attachment's bytes
//   WEBUI_INLINE        the inline image's file name (a cid: reference in the HTML)
//   WEBUI_CANARY        a path the message's <script> would fetch if it ran
//   WEBUI_RULE          the name of the rule that fired in one session
//   WEBUI_AUTH_BASE     a second server's page under --http-base-path (http://.../mail/)
//   WEBUI_AUTH          its --http-auth "user:password"
//   WEBUI_AUTH_SUBJECT  a message subject sent to that second server
//   WEBUI_OUTPUT        where screenshots go
//   WEBUI_BROWSER       chromium (the default) or firefox; firefox's screenshots are firefox-*.png
// Exits 0 when every check held, 1 with the reasons otherwise. Every wait is bounded.

import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const require = createRequire(import.meta.url);
const puppeteer = require('puppeteer-core');

const env = (k) => {
  const v = process.env[k];
  if (v === undefined) throw new Error(`missing ${k}`);
  return v;
};
const BASE = env('WEBUI_BASE');
const BROWSER = process.env.WEBUI_BROWSER || 'chromium';
const FIREFOX = BROWSER === 'firefox';
const OUT = env('WEBUI_OUTPUT');
const WAIT = 10000; // ms: the longest any single wait may take
const WATCHDOG = 45000; // ms: the whole run (test_web_ui.py gives node 50 s)
fs.mkdirSync(OUT, { recursive: true });

const failures = [];
const problems = []; // console errors/warnings and page errors of the page itself
const requests = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function check(cond, what) {
  if (cond) console.log(`ok   ${what}`);
  else { console.log(`FAIL ${what}`); failures.push(what); }
  return cond;
}

/** Collects console errors/warnings, page errors and requests of a page. */
function watch(page, label) {
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'warning') return;
    const text = msg.text();
    // Chromium's own report that the sandbox did its job (the captured HTML's <script> in a
    // frame without allow-scripts): expected, and proof the script did not run.
    if (/^Blocked script execution in '.*\/view\/[^']*' because the document's frame is sandboxed/.test(text)) {
      page.sawBlockedScript = true;
      return;
    }
    // Firefox's report of the same: the view's policy (sandbox, no script source) refused it.
    if (FIREFOX && /Content-Security-Policy|sandbox/i.test(text) && /script|inline/i.test(text) &&
        /\/view\//.test(`${text} ${(msg.location() || {}).url || ''}`)) {
      page.sawBlockedScript = true;
      return;
    }
    const url = msg.location() && msg.location().url ? msg.location().url : '';
    // The lint check below PUTs a bad scenario on purpose; Chromium logs its 400 answer.
    if (page.expectScenario400 && /status of 400/.test(text) && /\/api\/v1\/scenario(\?|$)/.test(url)) {
      page.expectScenario400 = false;
      return;
    }
    const loc = url ? ` (${url})` : '';
    problems.push(`${label}: console.${msg.type()}: ${text}${loc}`);
  });
  page.on('pageerror', (err) => problems.push(`${label}: page error: ${err.message}`));
  page.on('request', (req) => requests.push(req.url()));
  page.on('requestfailed', (req) => {
    const f = req.failure();
    // A navigation away (or a frame replaced) aborts pending loads: not a fault of the page.
    if (f && f.errorText === 'net::ERR_ABORTED') return;
    problems.push(`${label}: request failed: ${req.url()} ${f ? f.errorText : ''}`);
  });
}

/** Sends one message over SMTP with a raw socket (bounded by a timeout). */
function smtpSend(port, from, to, data) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const script = [null, 'EHLO webui.test', `MAIL FROM:<${from}>`, `RCPT TO:<${to}>`, 'DATA',
      `${data.replace(/\r?\n/g, '\r\n')}\r\n.`, 'QUIT'];
    let buf = '';
    let step = 0;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('SMTP timeout')); }, WAIT);
    sock.setEncoding('utf8');
    sock.on('data', (chunk) => {
      buf += chunk;
      // A reply is complete at a line "NNN text" (no dash after the code).
      while (/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(buf)) {
        const code = Number(buf.match(/(\d{3}) [^\r\n]*\r\n$/)[1]);
        buf = '';
        if (code >= 400) { clearTimeout(timer); sock.destroy(); reject(new Error(`SMTP ${code} at step ${step}`)); return; }
        step += 1;
        if (step >= script.length) { clearTimeout(timer); sock.end(); resolve(); return; }
        sock.write(`${script[step]}\r\n`);
      }
    });
    sock.on('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

async function shot(page, name) {
  const file = path.join(OUT, `${FIREFOX ? 'firefox-' : ''}${name}.png`);
  await page.screenshot({ path: file });
  console.log(`     screenshot ${file}`);
}

/** Clicks a session row in one step (the list may be rebuilt between a query and a click). */
async function clickRow(page, id) {
  await page.evaluate((i) => document.querySelector(`#session-list [data-session-id="${CSS.escape(i)}"]`).click(), id);
}

async function textOf(page, selector) {
  return page.$eval(selector, (el) => el.textContent);
}

async function main() {
  const browser = await puppeteer.launch(FIREFOX ? {
    browser: 'firefox',
    executablePath: '/usr/bin/firefox-esr',
    headless: true,
    timeout: WAIT,
  } : {
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage'],
    timeout: WAIT,
  });
  // A watchdog under the test's own timeout, so no browser outlives a stuck run.
  const watchdog = setTimeout(() => {
    console.log(`FAIL the browser run took over ${WATCHDOG / 1000}s`);
    try { browser.process().kill('SIGKILL'); } catch { /* gone already */ }
    process.exit(1);
  }, WATCHDOG);
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT);
    await page.setViewport({ width: 1280, height: 800 });
    watch(page, 'page');
    const responses = [];
    page.on('response', (r) => responses.push({ url: r.url(), status: r.status(), type: r.headers()['content-type'] || '' }));

    // --- inbox ------------------------------------------------------------------------------
    await page.goto(`${BASE}#/inbox`, { waitUntil: 'load', timeout: WAIT });
    const subject = env('WEBUI_SUBJECT');
    const row = await page.waitForFunction((s) => [...document.querySelectorAll('#message-list [data-message-id]')]
      .find((r) => r.textContent.includes(s)), {}, subject);
    check(!!row, 'the inbox lists the HTML message');
    const messageId = await row.evaluate((r) => r.dataset.messageId);
    check(await row.evaluate((r) => r.classList.contains('unread')), 'the unread message is marked unread');
    check(await row.evaluate((r) => !!r.querySelector('[data-attachments]')), 'the message row has an attachment marker');
    await shot(page, 'inbox');

    // --- sessions: the rule marker and the dropped marker -----------------------------------
    const rule = env('WEBUI_RULE');
    await page.goto(`${BASE}#/sessions`, { waitUntil: 'load', timeout: WAIT });
    await page.waitForSelector('#session-list [data-session-id]');
    const ruleRow = await page.waitForFunction((r) => [...document.querySelectorAll('#session-list [data-session-id]')]
      .find((x) => x.querySelector(`.badge.rule[data-rules~="${r}"]`)), { timeout: WAIT }, rule).catch(() => null);
    check(!!ruleRow, `a session row carries the rule marker for ${rule}`);
    const dropped = await page.waitForSelector('#session-list [data-session-id] .badge[data-closed="server"]', { timeout: WAIT }).catch(() => null);
    check(!!dropped, 'a session row carries the dropped (server closed) marker');
    await shot(page, 'sessions');

    // --- the message: sandboxed HTML, inline image, no script ran ---------------------------
    await page.goto(`${BASE}#/message/${encodeURIComponent(messageId)}`, { waitUntil: 'load', timeout: WAIT });
    const frameEl = await page.waitForSelector('iframe#html-frame');
    const sandbox = await frameEl.evaluate((f) => f.getAttribute('sandbox'));
    check(sandbox !== null, `the HTML frame is sandboxed (sandbox="${sandbox}")`);
    check(sandbox !== null && !/allow-scripts/.test(sandbox) && !/allow-same-origin/.test(sandbox),
      'the sandbox allows neither scripts nor the same origin');
    // The frame's document, read through the DevTools DOM (its own scripts are disabled).
    const frame = await frameEl.contentFrame();
    const htmlText = env('WEBUI_HTML_TEXT');
    let frameText = '';
    let imageOk = false;
    for (const deadline = Date.now() + WAIT; Date.now() < deadline; await sleep(100)) {
      try {
        if (FIREFOX) {
          // WebDriver BiDi evaluates in the frame's document even though its scripts are off.
          frameText = await frame.evaluate(() => document.body.textContent);
        } else {
          const cdp = await page.createCDPSession();
          const { root } = await cdp.send('DOM.getDocument', { depth: -1, pierce: true });
          const walk = (n, inFrame, acc) => {
            if (inFrame && n.nodeType === 3) acc.text += n.nodeValue;
            if (inFrame && n.nodeName === 'IMG') acc.imgs += 1;
            const isView = n.nodeName === 'IFRAME' && n.contentDocument;
            for (const c of n.children || []) walk(c, inFrame, acc);
            if (isView) walk(n.contentDocument, true, acc);
            return acc;
          };
          frameText = walk(root, false, { text: '', imgs: 0 }).text;
          await cdp.detach();
        }
      } catch { /* the frame is still loading */ }
      const part = responses.find((r) => /\/api\/v1\/message\/[^/]+\/part\/[^/]+$/.test(r.url) && r.status === 200);
      imageOk = !!part && /^image\//.test(part.type);
      if (frameText.includes(htmlText) && imageOk) break;
    }
    check(frame && frame.url().includes(`view/${messageId}.html`), `the frame shows view/ID.html (${frame && frame.url()})`);
    check(frameText.includes(htmlText), `the frame's document shows the HTML text "${htmlText}"`);
    check(imageOk, 'the inline cid: image loaded (an image answer for its part URL)');
    const canary = env('WEBUI_CANARY');
    await sleep(300);
    check(!requests.some((u) => u.includes(canary)), `the message's script never ran (no request for ${canary})`);
    check((await page.title()) === 'smtpmock', `the page title is untouched (${await page.title()})`);
    check(page.sawBlockedScript === true || !requests.some((u) => u.includes(canary)),
      'the browser blocked the captured script');
    await shot(page, 'message');

    // --- the attachment downloads with the right bytes --------------------------------------
    await page.goto(`${BASE}#/message/${encodeURIComponent(messageId)}/attachments`, { waitUntil: 'load', timeout: WAIT });
    const [fileName, b64] = env('WEBUI_ATTACHMENT').split(':');
    const link = await page.waitForFunction((n) => [...document.querySelectorAll('#attachment-list a.download')]
      .find((a) => a.textContent === n), {}, fileName);
    const got = await link.evaluate(async (a) => {
      const r = await fetch(a.href);
      const bytes = new Uint8Array(await r.arrayBuffer());
      let s = '';
      for (const b of bytes) s += String.fromCharCode(b);
      return { status: r.status, b64: btoa(s), download: a.getAttribute('download') };
    });
    check(got.status === 200 && got.b64 === b64, `the attachment link gives the attachment's bytes (${got.status}, ${got.b64.length} base64 chars)`);
    check(got.download === fileName, `the link downloads as ${fileName}`);
    const inlineName = env('WEBUI_INLINE');
    const thumb = await page.waitForFunction((n) => {
      const li = [...document.querySelectorAll('#attachment-list li')].find((x) => x.textContent.includes(n));
      const img = li && li.querySelector('img.thumb');
      return img && img.complete && img.naturalWidth > 0 ? img : null;
    }, {}, inlineName).catch(() => null);
    check(!!thumb, `the image ${inlineName} shows a thumbnail`);

    // --- live: a new message appears without a reload ---------------------------------------
    await page.goto(`${BASE}#/inbox`, { waitUntil: 'load', timeout: WAIT });
    await page.waitForSelector('#message-list [data-message-id]');
    await page.waitForSelector('#conn[data-state="live"]', { timeout: WAIT }).catch(() => null);
    check(await page.$eval('#conn', (e) => e.dataset.state) === 'live', 'the event WebSocket is connected');
    await page.evaluate(() => { window.__noReload = true; });
    const liveSubject = `live ${Date.now()}`;
    await smtpSend(Number(env('WEBUI_SMTP_PORT')), 'live@example.com', 'bob@example.com',
      `From: live@example.com\nTo: bob@example.com\nSubject: ${liveSubject}\n\nsent while the page was open\n`);
    const t0 = Date.now();
    const liveRow = await page.waitForFunction((s) => [...document.querySelectorAll('#message-list [data-message-id]')]
      .find((r) => r.textContent.includes(s)), { timeout: 2000, polling: 50 }, liveSubject).catch(() => null);
    check(!!liveRow, `the new message appeared without a reload (${Date.now() - t0} ms)`);
    check(await page.evaluate(() => window.__noReload === true), 'the page did not reload');
    // Keyboard: j moves the cursor to the first (newest) message, Enter opens it.
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await page.keyboard.press('j');
    const firstId = await page.$eval('#message-list [data-message-id]', (r) => r.dataset.messageId);
    check(await page.$eval('#message-list [data-message-id]', (r) => r.classList.contains('cursor')), 'j puts the keyboard cursor on the first message');
    await page.keyboard.press('Enter');
    await page.waitForFunction((id) => location.hash === `#/message/${encodeURIComponent(id)}`, { timeout: WAIT }, firstId).catch(() => null);
    check(await page.evaluate(() => location.hash).then((hsh) => hsh === `#/message/${encodeURIComponent(firstId)}`), 'Enter opens it (#/message/ID)');

    // --- live: an open session appears, and its transcript grows while it is shown ----------
    await page.goto(`${BASE}#/sessions`, { waitUntil: 'load', timeout: WAIT });
    await page.waitForSelector('#session-list [data-session-id]');
    const sock = net.connect(Number(env('WEBUI_SMTP_PORT')), '127.0.0.1');
    try {
      sock.on('data', () => {});
      sock.on('error', () => {});
      sock.write('EHLO live-session.test\r\n');
      const liveSession = await page.waitForSelector('#session-list [data-live="1"]', { timeout: 2000 }).catch(() => null);
      if (check(!!liveSession, 'an open session appears in the list without a reload')) {
        // The list is rebuilt as events arrive: click by id, not through the old handle.
        const liveId = await liveSession.evaluate((r) => r.dataset.sessionId).catch(() => null)
          || await page.$eval('#session-list [data-live="1"]', (r) => r.dataset.sessionId);
        await clickRow(page, liveId);
        await page.waitForFunction(() => /live-session\.test/i.test((document.querySelector('#transcript') || {}).textContent || ''), { timeout: WAIT });
        sock.write('NOOP live-line\r\n');
        const grew = await page.waitForFunction(() => [...document.querySelectorAll('#transcript .tl-row.dir-in')]
          .some((r) => r.textContent.includes('NOOP live-line')), { timeout: 2000, polling: 50 }).catch(() => null);
        check(!!grew, 'a line the client sends appears in the open transcript');
        sock.write('QUIT\r\n');
        const ended = await page.waitForSelector('#session-view[data-live="0"]', { timeout: 5000 }).catch(() => null);
        check(!!ended, 'the session view shows the session ended after QUIT');
      }
    } finally {
      sock.destroy();
    }

    // --- the session view shows the rule that shaped a reply --------------------------------
    await page.goto(`${BASE}#/sessions`, { waitUntil: 'load', timeout: WAIT });
    const sid = await page.waitForFunction((r) => {
      const x = [...document.querySelectorAll('#session-list [data-session-id]')]
        .find((e) => e.querySelector(`.badge.rule[data-rules~="${r}"]`));
      return x ? x.dataset.sessionId : null;
    }, { timeout: WAIT }, rule).then((h) => h.jsonValue()).catch(() => null);
    if (check(!!sid, 'found the session the rule fired in')) {
      await clickRow(page, sid);
      const badge = await page.waitForSelector(`#transcript .badge.rule[data-rule="${rule}"]`).catch(() => null);
      check(!!badge, `the transcript tags the reply with the rule ${rule}`);
      check((await textOf(page, '#transcript')).toLowerCase().includes('rcpt to:<blocked@example.com>'), 'the transcript shows the client lines');
      await shot(page, 'session');
      // Dark mode (emulated over CDP only: BiDi has no media emulation) and phone width.
      const scheme = (value) => (FIREFOX ? Promise.resolve()
        : page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value }]));
      await scheme('dark');
      if (!FIREFOX) await shot(page, 'session-dark');
      await page.setViewport({ width: 390, height: 844 });
      await page.goto(`${BASE}#/inbox`, { waitUntil: 'load', timeout: WAIT });
      await page.waitForSelector('#message-list [data-message-id]');
      await shot(page, FIREFOX ? 'inbox-phone' : 'inbox-phone-dark');
      await scheme('light');
      await page.goto(`${BASE}#/session/${encodeURIComponent(sid)}`, { waitUntil: 'load', timeout: WAIT });
      await page.waitForSelector('#transcript .tl-row');
      await shot(page, 'session-phone');
    }
    await page.setViewport({ width: 1280, height: 800 });
    await page.goto(`${BASE}#/scenario`, { waitUntil: 'load', timeout: WAIT });
    const ruleInCard = await page.waitForSelector(`.scenario-card tr[data-rule="${rule}"]`).catch(() => null);
    check(!!ruleInCard, 'the scenario page lists the rule');
    // A bad key on line 3 of the YAML: Save shows the lint error at that line.
    page.expectScenario400 = true;
    await page.$eval('.scenario-card textarea.yaml', (t) => {
      const lines = t.value.split('\n');
      lines.splice(2, 0, 'no_such_key: 1');
      t.value = lines.join('\n');
      t.dispatchEvent(new Event('input'));
    });
    await page.click('.scenario-card button.save');
    const lint = await page.waitForSelector('.scenario-card .editor-status.error').catch(() => null);
    const lintLine = lint && await lint.evaluate((e) => e.dataset.line);
    check(lintLine === '3', `a lint error is shown at its line (line ${lintLine}: ${lint && await lint.evaluate((e) => e.textContent)})`);
    check(await page.$eval('.scenario-card .gutter .bad', (e) => e.textContent).catch(() => null) === '3', 'the gutter marks line 3');
    await shot(page, 'scenario');
    await page.close();

    // --- under --http-base-path with --http-auth --------------------------------------------
    const ctx = await browser.createBrowserContext();
    try {
      const p2 = await ctx.newPage();
      p2.setDefaultTimeout(WAIT);
      watch(p2, 'auth page');
      const [user, ...pw] = env('WEBUI_AUTH').split(':');
      await p2.authenticate({ username: user, password: pw.join(':') });
      const resp = await p2.goto(env('WEBUI_AUTH_BASE'), { waitUntil: 'load', timeout: WAIT });
      check(resp && resp.status() === 200, `the page loads under the base path with auth (${resp && resp.status()})`);
      const authSubject = env('WEBUI_AUTH_SUBJECT');
      const r2 = await p2.waitForFunction((s) => [...document.querySelectorAll('#message-list [data-message-id]')]
        .find((r) => r.textContent.includes(s)), {}, authSubject).catch(() => null);
      check(!!r2, 'the inbox under the base path lists its message');
      check(p2.url().startsWith(env('WEBUI_AUTH_BASE')), `the page stays under the base path (${p2.url()})`);
      const live = await p2.waitForSelector('#conn[data-state="live"]', { timeout: WAIT }).catch(() => null);
      check(!!live, 'the event WebSocket connects under the base path with auth');
      await shot(p2, 'inbox-base-path');
      await p2.close();
    } finally {
      await ctx.close();
    }
  } finally {
    clearTimeout(watchdog);
    await browser.close();
  }
  for (const p of problems) failures.push(p);
  if (problems.length) console.log(`FAIL console/page problems:\n  ${problems.join('\n  ')}`);
  if (failures.length) {
    console.log(`\n${failures.length} failure(s)`);
    process.exit(1);
  }
  console.log('\nall web UI checks passed');
}

main().catch((e) => {
  console.log(`FAIL ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
