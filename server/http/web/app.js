// smtpmock web UI — one framework-free ES module, no build step, nothing fetched from outside.
//
// Routes (hash routing, so links and reloads work under any --http-base-path):
//   #/inbox[?q=QUERY]        message list (search with the API's syntax: from: to: is:unread ...)
//   #/message/ID[/TAB]       list + one message; TAB: html text headers raw attachments envelope findings
//   #/sessions               SMTP sessions
//   #/session/ID             list + one session's transcript timeline (live while it is open)
//   #/scenario               the active scenario(s): personality, extensions, rules, YAML editor, chaos
//
// Every URL is relative (api/v1/..., view/ID.html, api/events) and the page runs under a strict
// CSP: no inline script or style, no eval, DOM built with textContent only (captured mail is
// hostile input). Message HTML is shown only in <iframe sandbox> without allow-scripts or
// allow-same-origin, from view/ID.html (served with its own sandbox CSP).
//
// Live events: a WebSocket at api/events; each text frame is JSON {Type, Data}:
//   new (message summary), stats ({Total, Unread}), update ({ID, Read}), delete ({ID}),
//   truncate, prune (refetch), session (session summary), transcript ({Session, Index, Line}),
//   finding ({Session, Finding}), scenario ({Listeners}: refetch).
// It reconnects with backoff; while it is not open the page polls every 3 s instead.
//
// Keys in the lists: ↑/↓ or j/k move, Enter (or o) opens, Delete (or #) deletes a message,
// / searches, Escape closes the open message or session. Stable hooks for tests: data-message-id,
// data-session-id, data-rule(s), data-closed, data-live, data-part-id, #conn[data-state].

const POLL_MS = 3000;
const PAGE = 100; // list items fetched per page
const MAX_ITEMS = 2000; // list items kept as live events prepend more
const RAW_SHOWN = 1 << 20; // characters of a raw message shown in the page (the link has all)
const TABS = ['html', 'text', 'headers', 'raw', 'attachments', 'envelope', 'findings'];

// ---------------------------------------------------------------------------------------------
// small helpers

/** h('div.cls#id', {attrs}, ...children): an element; strings become text nodes, never HTML. */
function h(spec, attrs, ...children) {
  const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = document.createElement((m && m[1]) || 'div');
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);

class HttpError extends Error {
  constructor(status, body) {
    let msg = body;
    try { msg = JSON.parse(body).Error || body; } catch { /* plain text */ }
    super(`HTTP ${status}: ${msg}`);
    this.status = status;
    this.body = body;
  }
}

/** fetch a relative URL; JSON by default, text with as='text'. Throws HttpError on non-2xx. */
async function api(path, { method = 'GET', body, as = 'json', headers = {} } = {}) {
  const init = { method, headers: { ...headers }, cache: 'no-store' };
  if (body !== undefined) {
    if (typeof body === 'string') init.body = body;
    else { init.body = JSON.stringify(body); init.headers['Content-Type'] = 'application/json'; }
  }
  const r = await fetch(path, init);
  const text = await r.text();
  if (!r.ok) throw new HttpError(r.status, text);
  if (as === 'text') return text;
  return text ? JSON.parse(text) : null;
}

const enc = encodeURIComponent;

function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const now = new Date();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  if (d.toDateString() === now.toDateString()) return time;
  return `${d.toLocaleDateString()} ${time}`;
}

/** Precise clock time for transcripts: HH:MM:SS.mmm */
function fmtClock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso || '';
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  const m = Math.floor(ms / 60000);
  return `${m} min ${Math.round((ms % 60000) / 1000)} s`;
}

function fmtSize(n) {
  if (n === undefined || n === null) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function addr(a) {
  if (!a) return '';
  return a.Name ? `${a.Name} <${a.Address}>` : a.Address || '';
}

function sessionDuration(s) {
  const start = Date.parse(s.Started);
  const end = s.Ended ? Date.parse(s.Ended) : Date.now();
  return fmtDuration(end - start);
}

const ICONS = {
  // 16x16 stroke icons (no emoji: headless and minimal systems lack the fonts)
  clip: 'M10.5 4.5l-5 5a1.6 1.6 0 0 0 2.3 2.3l5.4-5.4a3 3 0 0 0-4.3-4.3L3.5 7.5a4.4 4.4 0 0 0 6.2 6.2l4-4',
  lock: 'M4 7h8v7H4zM5.5 7V5a2.5 2.5 0 0 1 5 0v2',
  bolt: 'M9 1.5L3.5 9H8l-1 5.5L12.5 7H8z',
  file: 'M4 1.5h5l3 3v10H4zM9 1.5v3h3',
};

/** A small inline SVG icon (built with the DOM, so the CSP has nothing to object to). */
function icon(name, title) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('class', `icon icon-${name}`);
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name]);
  svg.append(path);
  if (title) {
    const t = document.createElementNS(ns, 'title');
    t.textContent = title;
    svg.prepend(t);
  }
  return svg;
}

function badge(text, cls, attrs = {}) {
  return h(`span.badge.${cls}`, attrs, text);
}

function severityPills(counts) {
  if (!counts) return null;
  const out = [];
  for (const sev of ['error', 'warning', 'info']) {
    if (counts[sev]) out.push(badge(`${counts[sev]} ${sev}`, `sev-${sev}`, { 'data-severity': sev }));
  }
  return out.length ? out : null;
}

// ---------------------------------------------------------------------------------------------
// state

const state = {
  route: { view: 'inbox' },
  messages: [], // summaries, newest first
  messagesTotal: 0,
  unread: 0,
  query: '',
  sessions: [],
  sessionsTotal: 0,
  scenarioBySession: new Map(), // session ID -> scenario name, for the inbox column
  current: null, // the open message or session (full JSON)
  cursorId: null, // the item the keyboard cursor is on (message or session ID)
  ws: null,
  wsOpen: false,
};

// ---------------------------------------------------------------------------------------------
// routing

function parseRoute() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [pathPart, queryPart = ''] = raw.split('?');
  const parts = pathPart.split('/').map(decodeURIComponent);
  const params = new URLSearchParams(queryPart);
  switch (parts[0]) {
    case 'message': return { view: 'message', id: parts[1] || '', tab: parts[2] || '' };
    case 'sessions': return { view: 'sessions' };
    case 'session': return { view: 'session', id: parts[1] || '' };
    case 'scenario': return { view: 'scenario' };
    default: return { view: 'inbox', q: params.get('q') || '' };
  }
}

async function onRoute() {
  const prev = state.route;
  const route = parseRoute();
  state.route = route;
  for (const a of document.querySelectorAll('#nav a')) {
    const section = route.view === 'message' ? 'inbox' : route.view === 'session' ? 'sessions' : route.view;
    a.classList.toggle('active', a.dataset.nav === section);
  }
  try {
    if (route.view === 'inbox' || route.view === 'message') {
      let queryChanged = false;
      if (route.view === 'inbox' && route.q !== state.query) { state.query = route.q; queryChanged = true; }
      if (queryChanged || !['inbox', 'message'].includes(prev.view) || !state.inboxLoaded) await loadMessages();
      renderInbox();
      if (route.view === 'message') await openMessage(route.id, route.tab);
    } else if (route.view === 'sessions' || route.view === 'session') {
      if (!['sessions', 'session'].includes(prev.view) || !state.sessionsLoaded) await loadSessions();
      renderSessions();
      if (route.view === 'session') await openSession(route.id);
    } else if (route.view === 'scenario') {
      await renderScenario();
    }
  } catch (e) {
    showError(e);
  }
}

function go(hash) {
  if (location.hash !== hash) location.hash = hash;
}

/** An error toast at the bottom of the page (click to dismiss). */
function showError(e) {
  let box = $('#error-box');
  if (!box) {
    box = h('div#error-box.error', { role: 'alert', title: 'click to dismiss', onclick: () => { box.hidden = true; } });
    document.body.append(box);
  }
  box.textContent = String(e && e.message ? e.message : e);
  box.hidden = false;
}

/** The inbox's hash, keeping the current search. */
function inboxHash() {
  return state.query ? `#/inbox?q=${enc(state.query)}` : '#/inbox';
}

function clearError() {
  const box = $('#error-box');
  if (box) box.hidden = true;
}

/** The two-pane layout: a list on the left, the detail on the right (stacked on phones). */
function layout(kind) {
  const app = $('#app');
  if (app.dataset.layout === kind) return kind === 'scenario' ? { main: app } : { list: $('#list-pane'), detail: $('#detail-pane') };
  app.replaceChildren();
  app.dataset.layout = kind;
  if (kind === 'scenario') return { main: app };
  const list = h('section#list-pane.pane', { 'aria-label': `${kind} list` });
  const detail = h('section#detail-pane.pane', { 'aria-label': 'detail' });
  app.append(list, detail);
  return { list, detail };
}

function setDetailOpen(open) {
  $('#app').classList.toggle('detail-open', open);
}

// ---------------------------------------------------------------------------------------------
// inbox

async function loadMessages(more = false) {
  const start = more ? state.messages.length : 0;
  const q = state.query.trim();
  const url = q
    ? `api/v1/search?query=${enc(q)}&start=${start}&limit=${PAGE}`
    : `api/v1/messages?start=${start}&limit=${PAGE}`;
  let data;
  try {
    data = await api(url);
    state.searchError = '';
  } catch (e) {
    if (e instanceof HttpError && e.status === 400 && q) {
      state.searchError = e.message;
      data = { messages: [], total: 0, messages_count: 0, unread: state.unread };
    } else throw e;
  }
  const list = data.messages || [];
  state.messages = more ? state.messages.concat(list) : list;
  state.messagesTotal = q ? data.messages_count ?? data.total : data.total;
  if (!q) setUnread(data.unread);
  state.inboxLoaded = true;
  if (list.some((m) => !m.Scenario && !state.scenarioBySession.has(m.SessionID)) &&
      !(state.scenariosAsked > Date.now() - 30000)) {
    // Older servers send no Scenario per message: learn it from the sessions list (at most
    // every 30 s, as sessions that are gone never turn up).
    state.scenariosAsked = Date.now();
    loadSessionScenarios().catch(() => {});
  }
}

async function loadSessionScenarios() {
  const data = await api(`api/v1/sessions?start=0&limit=1000`);
  for (const s of data.sessions || []) state.scenarioBySession.set(s.ID, s.Scenario);
  if (state.route.view === 'inbox' || state.route.view === 'message') renderMessageList();
}

function setUnread(n) {
  if (typeof n !== 'number') return;
  state.unread = n;
  $('#unread-count').textContent = n ? String(n) : '';
}

function renderInbox() {
  const { list } = layout('inbox');
  if (!$('#inbox-toolbar', list)) {
    const search = h('input#search', {
      type: 'search', placeholder: 'Search: from:alice to:bob subject:"hi" is:unread has:attachment listener:NAME',
      'aria-label': 'search messages', value: state.query, autocomplete: 'off', spellcheck: 'false',
      title: 'from: to: cc: subject: message-id: is:read is:unread has:attachment tag: listener: session: ' +
        'after:DATE before:DATE larger:SIZE smaller:SIZE "a phrase" -negated; Enter searches',
    });
    search.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        const q = search.value.trim();
        if (state.route.view === 'inbox' && q === state.query) loadMessages().then(renderMessageList).catch(showError);
        else go(q ? `#/inbox?q=${enc(q)}` : '#/inbox');
      } else if (ev.key === 'Escape') {
        search.blur();
      }
    });
    list.append(
      h('div#inbox-toolbar.toolbar',
        h('form.searchform', { role: 'search', onsubmit: (ev) => ev.preventDefault() }, search),
        h('div.actions',
          h('button#mark-all-read', { type: 'button', title: 'Mark every message read', onclick: markAllRead }, 'Mark all read'),
          h('button#delete-all.danger', { type: 'button', title: 'Delete every message', onclick: deleteAll }, 'Delete all'))),
      h('div#inbox-status.status'),
      h('ul#message-list.list', { role: 'listbox', 'aria-label': 'messages' }),
      h('div#inbox-more.more'));
  }
  $('#search').value = state.query;
  renderMessageList();
  if (state.route.view === 'inbox') {
    setDetailOpen(false);
    $('#detail-pane').replaceChildren(h('p.empty', 'Select a message. Keys: ↑/↓ or j/k move, Enter opens, Delete deletes, / searches.'));
    state.current = null;
  }
}

function renderMessageList() {
  const ul = $('#message-list');
  if (!ul) return;
  const selected = state.route.view === 'message' ? state.route.id : null;
  const hadFocus = ul.contains(document.activeElement);
  ul.replaceChildren(...state.messages.map((m, i) => messageRow(m, m.ID === selected, i)));
  restoreCursor(ul, hadFocus);
  const status = $('#inbox-status');
  if (state.searchError) status.textContent = state.searchError;
  else if (state.query) status.textContent = `${state.messagesTotal} matching "${state.query}"`;
  else status.textContent = state.messages.length ? `${plural(state.messagesTotal, 'message')}, ${state.unread} unread` : '';
  status.classList.toggle('error', !!state.searchError);
  if (!state.messages.length && !state.searchError) {
    ul.append(h('li.empty', state.query ? 'No message matches.' : 'No messages yet. Send one to the SMTP port.'));
  }
  const more = $('#inbox-more');
  more.replaceChildren();
  if (state.messages.length < state.messagesTotal) {
    more.append(h('button', { type: 'button', onclick: () => loadMessages(true).then(renderMessageList).catch(showError) },
      `Load more (${state.messagesTotal - state.messages.length})`));
  }
}

function messageRow(m, selected, index) {
  const scenario = m.Scenario || state.scenarioBySession.get(m.SessionID) || '';
  const listener = m.Listener ? m.Listener.Name : '';
  const to = (m.To || []).map((a) => a.Address).concat((m.Bcc || []).map((a) => a.Address));
  const findings = (m.Findings || []).length;
  return h('li.row.message-row', {
    role: 'option', tabindex: '-1', 'aria-selected': selected ? 'true' : 'false',
    class: `row message-row${m.Read ? '' : ' unread'}${selected ? ' selected' : ''}`,
    dataset: { messageId: m.ID, read: m.Read ? '1' : '0', index: String(index) },
    onclick: () => go(`#/message/${enc(m.ID)}`),
  },
  h('span.dot', { 'aria-label': m.Read ? 'read' : 'unread', title: m.Read ? 'read' : 'unread' }),
  h('div.row-main',
    h('div.row-line',
      h('span.from', addr(m.From) || (m.Envelope && m.Envelope.MailFrom) || '(no sender)'),
      h('time.when', { datetime: m.Created, title: m.Created }, fmtTime(m.Created))),
    h('div.row-line',
      h('span.subject', m.Subject || '(no subject)'),
      m.Attachments ? h('span.attach', { title: `${m.Attachments} attachment(s)`, 'data-attachments': String(m.Attachments) }, icon('clip'), String(m.Attachments)) : null),
    h('div.row-line.meta',
      h('span.to', to.length ? `to ${to.join(', ')}` : ''),
      h('span.tags',
        listener ? badge(listener, 'listener', { title: `listener ${m.Listener.Address}`, 'data-listener': listener }) : null,
        scenario ? badge(scenario, 'scenario', { title: 'scenario', 'data-scenario': scenario }) : null,
        findings ? badge(`${findings} finding${findings > 1 ? 's' : ''}`, 'sev-warning') : null)),
    m.Snippet ? h('div.snippet', m.Snippet) : null));
}

async function openMessage(id, tab) {
  const detail = $('#detail-pane');
  setDetailOpen(true);
  let msg = state.current && state.current.kind === 'message' && state.current.ID === id ? state.current : null;
  if (!msg) {
    detail.replaceChildren(h('p.empty', 'Loading…'));
    try {
      msg = await api(`api/v1/message/${enc(id)}`);
    } catch (e) {
      detail.replaceChildren(backLink(inboxHash(), 'Inbox'), h('p.error', e instanceof HttpError && e.status === 404 ? `Message ${id} not found (deleted?).` : e.message));
      return;
    }
    msg.kind = 'message';
    state.current = msg;
    // Opening a message marks it read (the API did); mirror it locally.
    const row = state.messages.find((m) => m.ID === id);
    if (row && !row.Read) {
      row.Read = true;
      setUnread(Math.max(0, state.unread - 1));
    }
    renderMessageList();
  }
  const hasHtml = !!(msg.HTML && msg.HTML.trim());
  const tabNow = TABS.includes(tab) ? tab : hasHtml ? 'html' : 'text';
  renderMessage(msg, tabNow);
}

function backLink(hash, label) {
  return h('a.back', { href: hash }, `← ${label}`);
}

function renderMessage(msg, tab) {
  const detail = $('#detail-pane');
  const env = msg.Envelope || {};
  const files = (msg.Attachments || []).concat(msg.Inline || []);
  const findings = msg.Findings || [];
  const scenario = msg.Scenario || state.scenarioBySession.get(msg.SessionID) || '';
  const tabLabel = {
    html: 'HTML', text: 'Text', headers: 'Headers', raw: 'Raw', attachments: `Attachments (${files.length})`,
    envelope: 'Envelope', findings: `Findings (${findings.length})`,
  };
  const tabs = TABS.filter((t) => t !== 'findings' || findings.length);
  const body = h('div#message-body.tabbody', { dataset: { tab } });
  detail.replaceChildren(
    h('article#message-view.detail', { dataset: { messageId: msg.ID } },
      backLink(inboxHash(), 'Inbox'),
      h('header.detail-head',
        h('h2#message-subject', msg.Subject || '(no subject)'),
        h('dl.kv',
          h('dt', 'From'), h('dd', addr(msg.From) || env.MailFrom || ''),
          h('dt', 'To'), h('dd', (msg.To || []).map(addr).join(', ') || (env.Recipients || []).map((r) => r.Address).join(', ')),
          (msg.Cc || []).length ? [h('dt', 'Cc'), h('dd', msg.Cc.map(addr).join(', '))] : null,
          (msg.Bcc || []).length ? [h('dt', 'Bcc'), h('dd', msg.Bcc.map(addr).join(', '))] : null,
          h('dt', 'Received'), h('dd', h('time', { datetime: msg.Date }, fmtTime(msg.Date)), ` · ${fmtSize(msg.Size)}`),
          h('dt', 'Session'), h('dd',
            msg.SessionID ? h('a#message-session-link', { href: `#/session/${enc(msg.SessionID)}`, 'data-session-id': msg.SessionID }, msg.SessionID) : '—',
            msg.Listener ? [' on ', badge(msg.Listener.Name, 'listener')] : null,
            scenario ? [' ', badge(scenario, 'scenario')] : null)),
        h('div.actions',
          h('a.button', { href: `view/${enc(msg.ID)}.raw`, download: `${msg.ID}.eml` }, 'Download .eml'),
          h('button#mark-unread', { type: 'button', onclick: () => markUnread(msg.ID) }, 'Mark unread'),
          h('button#delete-message.danger', { type: 'button', onclick: () => deleteMessages([msg.ID]) }, 'Delete'))),
      h('nav.tabs', { role: 'tablist' },
        tabs.map((t) => h('a.tab', {
          href: `#/message/${enc(msg.ID)}/${t}`, role: 'tab', class: `tab${t === tab ? ' active' : ''}`,
          'aria-selected': t === tab ? 'true' : 'false', dataset: { tab: t },
        }, tabLabel[t]))),
      body));
  renderMessageTab(msg, tab, body).catch((e) => body.replaceChildren(h('p.error', e.message)));
}

async function renderMessageTab(msg, tab, body) {
  const id = enc(msg.ID);
  const env = msg.Envelope || {};
  switch (tab) {
    case 'html': {
      if (!msg.HTML || !msg.HTML.trim()) {
        body.append(h('p.empty', 'This message has no HTML part.'));
        return;
      }
      // No allow-scripts, no allow-same-origin: the captured HTML can neither run code nor
      // reach this page. view/ID.html carries its own CSP; ?remote=1 lets it load remote images.
      const frame = h('iframe#html-frame', {
        sandbox: 'allow-popups allow-popups-to-escape-sandbox', src: `view/${id}.html`,
        title: 'message HTML', referrerpolicy: 'no-referrer',
      });
      const remoteRefs = countRemote(msg.HTML);
      const remote = h('button#load-remote', {
        type: 'button', title: 'Let the HTML load images and styles from other servers (blocked until then)',
        'data-remote-refs': String(remoteRefs),
        onclick: () => { frame.src = `view/${id}.html?remote=1`; remote.disabled = true; remote.textContent = 'Remote content loaded'; },
      }, remoteRefs ? `Load remote content (${remoteRefs} blocked)` : 'Load remote content');
      body.append(h('div.tabtools', remote, h('a', { href: `view/${id}.html`, target: '_blank', rel: 'noopener' }, 'Open in new tab')), frame);
      return;
    }
    case 'text':
      body.append(msg.Text ? h('pre#message-text.pre.wrap', msg.Text) : h('p.empty', 'This message has no text part.'));
      return;
    case 'headers': {
      const headers = await api(`api/v1/message/${id}/headers`);
      body.append(h('table#message-headers.kvtable', h('tbody',
        Object.entries(headers).flatMap(([name, values]) => values.map((v) => h('tr', h('th', name), h('td', v)))))));
      return;
    }
    case 'raw': {
      const raw = await api(`api/v1/message/${id}/raw`, { as: 'text' });
      const cut = raw.length > RAW_SHOWN;
      body.append(h('div.tabtools', h('a', { href: `view/${id}.raw`, target: '_blank', rel: 'noopener' }, 'Open raw'),
        cut ? h('span.muted', `showing the first ${fmtSize(RAW_SHOWN)} of ${fmtSize(raw.length)}`) : null),
      h('pre#message-raw.pre', cut ? raw.slice(0, RAW_SHOWN) : raw));
      return;
    }
    case 'attachments': {
      const files = (msg.Attachments || []).map((a) => [a, 'attachment']).concat((msg.Inline || []).map((a) => [a, 'inline']));
      if (!files.length) { body.append(h('p.empty', 'No attachments.')); return; }
      body.append(h('ul#attachment-list.files', files.map(([a, kind]) => {
        const url = `api/v1/message/${id}/part/${enc(a.PartID)}`;
        // Thumbnails for what the server decodes (http/thumbnail.cpp: PNG, JPEG, GIF).
        const isImage = /^image\/(png|jpe?g|pjpeg|gif)$/i.test(a.ContentType || '');
        return h('li.file', { dataset: { partId: a.PartID, kind } },
          isImage ? h('img.thumb', {
            src: `${url}/thumb`, alt: a.FileName || 'image', loading: 'lazy',
            onerror: (ev) => ev.target.replaceWith(h('span.thumb.generic', icon('file'))),
          }) : h('span.thumb.generic', icon('file')),
          h('div.file-main',
            h('a.download', { href: url, download: a.FileName || `part-${a.PartID}`, 'data-part-id': a.PartID }, a.FileName || `part ${a.PartID}`),
            h('div.meta', `${a.ContentType || ''} · ${fmtSize(a.Size)} · ${kind}${a.ContentID ? ` · cid:${a.ContentID}` : ''}`)));
      })));
      return;
    }
    case 'envelope': {
      const rows = [
        ['Client address', env.ClientAddress],
        ['HELO/EHLO', `${env.Helo || ''}${env.ESMTP === undefined ? '' : env.ESMTP ? ' (EHLO)' : ' (HELO)'}`],
        ['MAIL FROM', `<${env.MailFrom || ''}>${(env.MailParams || []).length ? ' ' + env.MailParams.join(' ') : ''}`],
        ...(env.Recipients || []).map((r, i) => [i ? '' : 'RCPT TO', `<${r.Address}>${(r.Params || []).length ? ' ' + r.Params.join(' ') : ''}`]),
        ['AUTH user', env.AuthUser || '—'],
        ['TLS', env.TLSVersion ? `${env.TLSVersion} ${env.TLSCipher || ''}` : 'none'],
        ['Listener', msg.Listener ? `${msg.Listener.Name} (${msg.Listener.Address})` : ''],
        ['Session', msg.SessionID ? h('a', { href: `#/session/${enc(msg.SessionID)}` }, msg.SessionID) : ''],
      ];
      body.append(h('table#message-envelope.kvtable', h('tbody', rows.map(([k, v]) => h('tr', h('th', k), h('td.mono', v || ''))))));
      return;
    }
    case 'findings':
      body.append(findingsList(msg.Findings || []));
      return;
    default:
  }
}

/** Roughly how many remote images/styles the HTML references (for the button's label). */
function countRemote(html) {
  const re = /(?:\b(?:src|background|srcset|poster)\s*=\s*["']?\s*|url\(\s*["']?\s*|@import\s+["']?)(?:https?:)?\/\//gi;
  return (String(html).match(re) || []).length;
}

function findingsList(list) {
  if (!list.length) return h('p.empty', 'No findings.');
  return h('ul.findings', list.map(findingItem));
}

function findingItem(f) {
  return h('li.finding', { class: `finding sev-${f.Severity}`, dataset: { code: f.Code, severity: f.Severity } },
    badge(f.Severity, `sev-${f.Severity}`), ' ', h('code', f.Code), ' ', h('span', f.Text),
    f.RFC ? h('span.rfc', ` (${f.RFC})`) : null);
}

async function markUnread(id) {
  try {
    await api('api/v1/messages', { method: 'PUT', body: { IDs: [id], Read: false } });
    const m = state.messages.find((x) => x.ID === id);
    if (m && m.Read) { m.Read = false; setUnread(state.unread + 1); }
    state.current = null;
    go(inboxHash());
    renderMessageList();
  } catch (e) { showError(e); }
}

async function markAllRead() {
  try {
    await api('api/v1/messages', { method: 'PUT', body: { IDs: [], Read: true } });
    for (const m of state.messages) m.Read = true;
    setUnread(0);
    renderMessageList();
  } catch (e) { showError(e); }
}

async function deleteAll() {
  if (!confirm('Delete every message?')) return;
  await deleteMessages([]);
}

/** Deletes the given messages (an empty list: all), then moves to the next one. */
async function deleteMessages(ids) {
  try {
    const openId = state.route.view === 'message' ? state.route.id : null;
    let next = null;
    if (openId && ids.includes(openId)) {
      const i = state.messages.findIndex((m) => m.ID === openId);
      next = state.messages[i + 1] || state.messages[i - 1] || null;
    }
    await api('api/v1/messages', { method: 'DELETE', body: ids.length ? { IDs: ids } : {} });
    if (!ids.length) state.messages = [];
    else state.messages = state.messages.filter((m) => !ids.includes(m.ID));
    state.messagesTotal = Math.max(0, state.messagesTotal - (ids.length || state.messagesTotal));
    if (!ids.length || (openId && ids.includes(openId))) {
      state.current = null;
      go(next ? `#/message/${enc(next.ID)}` : inboxHash());
    }
    renderMessageList();
    refreshStats();
  } catch (e) { showError(e); }
}

async function refreshStats() {
  try {
    const info = await api('api/v1/info');
    setUnread(info.Unread);
  } catch { /* the header count is cosmetic */ }
}

// ---------------------------------------------------------------------------------------------
// sessions

async function loadSessions() {
  const only = state.sessionListener ? `&listener=${enc(state.sessionListener)}` : '';
  const data = await api(`api/v1/sessions?start=0&limit=${PAGE * 2}${only}`);
  state.sessions = data.sessions || [];
  state.sessionsTotal = data.total || state.sessions.length;
  for (const s of state.sessions) state.scenarioBySession.set(s.ID, s.Scenario);
  state.sessionsLoaded = true;
  updateLiveCount();
}

function updateLiveCount() {
  const n = state.sessions.filter((s) => s.Live).length;
  $('#live-count').textContent = n ? `${n} live` : '';
}

function renderSessions() {
  const { list } = layout('sessions');
  if (!$('#session-list', list)) {
    const pick = h('select#listener-filter', { 'aria-label': 'only the sessions of this listener', hidden: true },
      h('option', { value: '' }, 'all listeners'));
    pick.addEventListener('change', () => {
      state.sessionListener = pick.value;
      loadSessions().then(renderSessionList).catch(showError);
    });
    list.append(h('div.toolbar', pick, h('div#sessions-status.status')), h('ul#session-list.list', { role: 'listbox', 'aria-label': 'sessions' }));
    // With several SMTP listeners (readyz names them), offer a filter.
    fetch('readyz', { cache: 'no-store' }).then((r) => r.text()).then((text) => {
      const names = text.split('\n').slice(1).map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
      if (names.length < 2) return;
      for (const n of names) pick.append(h('option', { value: n }, `listener ${n}`));
      pick.value = state.sessionListener || '';
      pick.hidden = false;
    }).catch(() => {});
  }
  renderSessionList();
  if (state.route.view === 'sessions') {
    setDetailOpen(false);
    $('#detail-pane').replaceChildren(h('p.empty', 'Select a session to see its transcript. Keys: ↑/↓ or j/k move, Enter opens.'));
    state.current = null;
  }
}

function renderSessionList() {
  const ul = $('#session-list');
  if (!ul) return;
  const selected = state.route.view === 'session' ? state.route.id : null;
  const hadFocus = ul.contains(document.activeElement);
  ul.replaceChildren(...state.sessions.map((s, i) => sessionRow(s, s.ID === selected, i)));
  restoreCursor(ul, hadFocus);
  if (!state.sessions.length) ul.append(h('li.empty', 'No SMTP sessions yet.'));
  const live = state.sessions.filter((s) => s.Live).length;
  $('#sessions-status').textContent = `${plural(state.sessionsTotal, 'session')}${live ? `, ${live} live` : ''}`;
}

function closedBadge(s) {
  if (s.Live) return badge('live', 'live', { 'data-live': '1', title: 'the session is open' });
  if (s.Closed === 'server') return badge('dropped', 'dropped', { 'data-closed': 'server', title: 'the server dropped the connection (or sent 421)' });
  if (s.Closed === 'client') return badge('client left', 'client-left', { 'data-closed': 'client', title: 'the client left without QUIT' });
  return null;
}

function rulesBadge(s) {
  const rules = s.Rules || [];
  if (!rules.length) return null;
  return badge([icon('bolt'), rules.join(', ')], 'rule', { 'data-rules': rules.join(' '), title: `rules fired: ${rules.join(', ')}` });
}

function sessionRow(s, selected, index) {
  return h('li', {
    role: 'option', tabindex: '-1', 'aria-selected': selected ? 'true' : 'false',
    class: `row session-row${selected ? ' selected' : ''}${s.Live ? ' is-live' : ''}`,
    dataset: { sessionId: s.ID, index: String(index), closed: s.Closed || '', live: s.Live ? '1' : '0' },
    onclick: () => go(`#/session/${enc(s.ID)}`),
  },
  h('span.dot', { class: `dot${s.Live ? ' live' : ''}`, title: s.Live ? 'live' : 'ended' }),
  h('div.row-main',
    h('div.row-line',
      h('span.from.mono', s.ClientAddress),
      h('time.when', { datetime: s.Started, title: s.Started }, fmtTime(s.Started))),
    h('div.row-line',
      h('span.tags',
        s.Listener ? badge(s.Listener.Name, 'listener', { title: `listener ${s.Listener.Address}` }) : null,
        s.Scenario ? badge(s.Scenario, 'scenario') : null,
        closedBadge(s), rulesBadge(s), severityPills(s.FindingCounts)),
      h('span.meta', sessionMeta(s)))));
}

function sessionMeta(s) {
  const msgs = (s.MessageIDs || []).length;
  return `${sessionDuration(s)} · ${plural(msgs, 'message')} · ${plural(s.Lines ?? 0, 'line')}`;
}

async function openSession(id) {
  const detail = $('#detail-pane');
  setDetailOpen(true);
  if (!(state.current && state.current.kind === 'session' && state.current.ID === id)) {
    detail.replaceChildren(h('p.empty', 'Loading…'));
  }
  let s;
  try {
    s = await api(`api/v1/session/${enc(id)}`);
  } catch (e) {
    detail.replaceChildren(backLink('#/sessions', 'Sessions'), h('p.error', e instanceof HttpError && e.status === 404 ? `Session ${id} not found.` : e.message));
    return;
  }
  if (state.route.view !== 'session' || state.route.id !== id) return;
  s.kind = 'session';
  const summary = state.sessions.find((x) => x.ID === id);
  if (summary) { s.Live = summary.Live; s.Rules = s.Rules || summary.Rules; s.Closed = s.Closed ?? summary.Closed; }
  if (s.Live === undefined) s.Live = !s.Ended;
  state.current = s;
  renderSession(s);
  const pending = (state.pendingLines || []).filter((d) => d.Session === id);
  state.pendingLines = [];
  for (const d of pending) onTranscriptEvent(d);
}

function renderSession(s) {
  const detail = $('#detail-pane');
  const keepScroll = $('#transcript') ? detail.scrollTop : null;
  const counts = s.FindingCounts || countFindings(s.Findings || []);
  detail.replaceChildren(
    h('article#session-view.detail', { dataset: { sessionId: s.ID, live: s.Live ? '1' : '0', closed: s.Closed || '' } },
      backLink('#/sessions', 'Sessions'),
      h('header.detail-head',
        h('h2', 'Session ', h('span.mono', s.ID)),
        h('dl.kv',
          h('dt', 'Client'), h('dd.mono', s.ClientAddress),
          h('dt', 'Listener'), h('dd', s.Listener ? `${s.Listener.Name} (${s.Listener.Address})` : ''),
          h('dt', 'Scenario'), h('dd', s.Scenario || ''),
          h('dt', 'Started'), h('dd', h('time', { datetime: s.Started }, fmtTime(s.Started)),
            ` · ${s.Ended ? `lasted ${sessionDuration(s)}` : `open for ${sessionDuration(s)}`}`),
          h('dt', 'State'), h('dd#session-state', closedBadge(s) || badge(s.Closed === 'quit' ? 'quit' : 'ended', 'ended'),
            s.Truncated ? [' ', badge('transcript truncated', 'sev-warning')] : null),
          (s.Rules || []).length ? [h('dt', 'Rules'), h('dd#session-rules', s.Rules.map((r) => badge(r, 'rule', { 'data-rule': r })))] : null,
          h('dt', 'Findings'), h('dd', severityPills(counts) || 'none'),
          h('dt', 'Messages'), h('dd', (s.MessageIDs || []).length
            ? s.MessageIDs.map((m) => h('a.mono.msglink', { href: `#/message/${enc(m)}`, 'data-message-id': m }, m))
            : 'none'))),
      transcriptView(s)));
  if (keepScroll !== null) detail.scrollTop = keepScroll;
}

function countFindings(list) {
  const c = { error: 0, warning: 0, info: 0 };
  for (const f of list) c[f.Severity] = (c[f.Severity] || 0) + 1;
  return c;
}

/** The transcript as a timeline: client lines on the left, server replies on the right. */
function transcriptView(s) {
  const lines = s.Transcript || [];
  const byLine = new Map(); // 1-based line -> findings that follow it
  for (const f of s.Findings || []) {
    const k = Math.max(0, f.Line || 0);
    if (!byLine.has(k)) byLine.set(k, []);
    byLine.get(k).push(f);
  }
  const rows = [h('div.tl-head', h('span', 'time'), h('span', 'Δ'), h('span', 'client'), h('span', 'server'))];
  for (const f of byLine.get(0) || []) rows.push(findingRow(f));
  lines.forEach((e, i) => {
    rows.push(transcriptRow(e, i, lines[i - 1]));
    for (const f of byLine.get(i + 1) || []) rows.push(findingRow(f));
  });
  const tl = h('div#transcript.timeline', { role: 'log', 'aria-live': 'polite' }, rows);
  if (!lines.length) tl.append(h('p.empty', 'No transcript lines.'));
  return tl;
}

function transcriptRow(e, index, prev) {
  const t = Date.parse(e.Time);
  const delta = prev ? t - Date.parse(prev.Time) : null;
  const dir = e.Direction === 'in' || e.Direction === 'out' ? e.Direction : 'info';
  const text = h('pre.tl-text', String(e.Text || '').replace(/\r\n/g, '\n'));
  const cell = h('div.tl-cell', text,
    e.Rule ? badge(`rule: ${e.Rule}`, 'rule', { 'data-rule': e.Rule, title: `reply shaped by the rule ${e.Rule}` }) : null,
    e.TLS ? h('span.tls-mark', { title: 'inside TLS' }, icon('lock'), 'TLS') : null);
  return h('div', {
    class: `tl-row dir-${dir}${e.TLS ? ' tls' : ''}${e.Rule ? ' ruled' : ''}`,
    dataset: { index: String(index), direction: dir, rule: e.Rule || undefined },
  },
  h('time.tl-time', { datetime: e.Time }, fmtClock(e.Time)),
  h('span.tl-delta', delta === null ? '' : `+${fmtDuration(delta)}`),
  dir === 'in' ? cell : h('span.tl-gap'),
  dir === 'in' ? h('span.tl-gap') : cell);
}

function findingRow(f) {
  return h('div.tl-finding', { class: `tl-finding sev-${f.Severity}`, dataset: { code: f.Code, severity: f.Severity } },
    badge(f.Severity, `sev-${f.Severity}`), h('code', f.Code), h('span', f.Text), f.RFC ? h('span.rfc', f.RFC) : null);
}

// ---------------------------------------------------------------------------------------------
// scenario

/** GET a scenario; its Seed is a 64-bit integer, kept as the exact digits (not a double). */
async function getScenario(url) {
  const text = await api(url, { as: 'text' });
  const sc = JSON.parse(text);
  const seed = /"Seed"\s*:\s*(\d+)/.exec(text);
  if (seed) sc.Seed = seed[1];
  return sc;
}

async function loadScenarios() {
  // One card per distinct scenario. Without ?listener= the API answers 400 when listeners run
  // different scenarios, so first read the listeners from readyz: after its "ok" line, one line
  // per SMTP listener, "NAME ADDRESS tls=MODE scenario=NAME".
  const firstByScenario = new Map();
  try {
    const r = await fetch('readyz', { cache: 'no-store' });
    for (const line of (await r.text()).split('\n').slice(1)) {
      const m = /^(\S+)\s+\S+.*\bscenario=(\S+)/.exec(line.trim());
      if (m && !firstByScenario.has(m[2])) firstByScenario.set(m[2], m[1]);
    }
  } catch { /* an older server: one scenario */ }
  if (firstByScenario.size <= 1) {
    try {
      return [await getScenario('api/v1/scenario')];
    } catch (e) {
      if (!(e instanceof HttpError) || e.status !== 400 || !firstByScenario.size) throw e;
    }
  }
  const out = [];
  for (const listener of firstByScenario.values()) {
    const sc = await getScenario(`api/v1/scenario?listener=${enc(listener)}`);
    sc.ListenerParam = listener;
    out.push(sc);
  }
  return out;
}

async function ruleHitsFromMetrics() {
  try {
    const text = await api('metrics', { as: 'text' });
    const hits = new Map();
    for (const line of text.split('\n')) {
      const m = /^smtpmock_rule_hits_total\{([^}]*)\}\s+([0-9.e+]+)/.exec(line);
      if (!m) continue;
      const rule = /rule="((?:[^"\\]|\\.)*)"/.exec(m[1]);
      const listener = /listener="((?:[^"\\]|\\.)*)"/.exec(m[1]);
      if (!rule) continue;
      const key = `${listener ? listener[1] : ''}\u0000${rule[1]}`;
      hits.set(key, (hits.get(key) || 0) + Number(m[2]));
    }
    return hits;
  } catch {
    return new Map();
  }
}

async function renderScenario() {
  const { main } = layout('scenario');
  setDetailOpen(false);
  state.current = { kind: 'scenario' };
  const dirty = [...main.querySelectorAll('textarea.yaml')].some((t) => t.dataset.dirty === '1');
  if (dirty) {
    const note = $('#scenario-changed') || main.prepend(h('p#scenario-changed.notice', 'The scenario changed on the server; save or reload to see it.')) || $('#scenario-changed');
    note.hidden = false;
    return;
  }
  let scenarios;
  try {
    scenarios = await loadScenarios();
  } catch (e) {
    main.replaceChildren(h('p.error', e.message));
    return;
  }
  const needMetrics = scenarios.some((sc) => (sc.Rules || []).some((r) => r.Hits === undefined));
  const hits = needMetrics ? await ruleHitsFromMetrics() : new Map();
  main.replaceChildren(h('div#scenarios.cards', scenarios.map((sc) => scenarioCard(sc, hits, scenarios.length > 1))));
}

function ruleHits(rule, sc, hits) {
  if (rule.Hits !== undefined) return rule.Hits;
  let n = 0;
  let found = false;
  for (const l of sc.Listeners || [{ Name: '' }]) {
    for (const key of [`${l.Name}\u0000${rule.Name}`, `\u0000${rule.Name}`]) {
      if (hits.has(key)) { n += hits.get(key); found = true; break; }
    }
  }
  return found ? n : 0;
}

function scenarioCard(sc, hits, multi) {
  const listenerQuery = multi && sc.ListenerParam ? `?listener=${enc(sc.ListenerParam)}` : '';
  const card = h('section.card.scenario-card', { dataset: { scenario: sc.Name } });
  const rules = sc.Rules || [];
  card.append(
    h('header.card-head',
      h('h2', sc.Name, ' ', h('span.muted', sc.Hostname ? `· ${sc.Hostname}` : '')),
      sc.Description ? h('p.desc', sc.Description) : null,
      h('p.meta',
        (sc.Listeners || []).map((l) => badge(`${l.Name} ${l.Address}${l.TLS && l.TLS !== 'none' ? ` (${l.TLS})` : ''}`, 'listener', { 'data-listener': l.Name })),
        sc.Origin ? h('span.muted', ` from ${sc.Origin}`) : null,
        sc.Seed !== undefined ? h('span.muted', ` · seed ${sc.Seed}`) : null)),
    h('h3', 'EHLO extensions'),
    h('ul.chips.extensions', (sc.Extensions || []).map((x) => h('li.chip', { 'data-extension': x }, x))),
    h('h3', `Rules (${rules.length})`),
    rules.length
      ? h('table.rules', h('thead', h('tr', h('th', 'name'), h('th', 'on'), h('th', 'source'), h('th.num', 'hits'))),
        h('tbody', rules.map((r) => h('tr', { dataset: { rule: r.Name } },
          h('td.mono', r.Name), h('td', r.On), h('td', r.Source || ''), h('td.num.hits', String(ruleHits(r, sc, hits)))))))
      : h('p.empty', 'No rules: every command gets the personality\'s reply.'),
    chaosEditor(sc, listenerQuery),
    yamlEditor(sc, listenerQuery));
  return card;
}

/** Mailpit's chaos triggers as toggles: on = the probability given, off = 0. */
function chaosEditor(sc, listenerQuery) {
  const chaos = sc.Chaos || {};
  const names = ['Sender', 'Recipient', 'Authentication'];
  const rows = names.map((name) => {
    const t = chaos[name] || { ErrorCode: 451, Probability: 0 };
    const on = h('input', { type: 'checkbox', checked: t.Probability > 0, 'aria-label': `${name} chaos on` });
    const code = h('input.code', { type: 'number', min: '400', max: '599', value: String(t.ErrorCode || 451), 'aria-label': `${name} error code` });
    const prob = h('input.prob', { type: 'number', min: '1', max: '100', value: String(t.Probability > 0 ? t.Probability : 100), 'aria-label': `${name} probability %` });
    const row = h('label.chaos', { dataset: { chaos: name } }, on, h('span.chaos-name', name), ' reply ', code, ' with ', prob, ' %');
    row.read = () => ({ ErrorCode: Number(code.value) || 451, Probability: on.checked ? Math.min(100, Math.max(0, Number(prob.value) || 0)) : 0 });
    for (const input of [on, code, prob]) input.addEventListener('change', () => save());
    return row;
  });
  const status = h('span.status');
  async function save() {
    const body = {};
    rows.forEach((r, i) => { body[names[i]] = r.read(); });
    try {
      await api(`api/v1/chaos${listenerQuery}`, { method: 'PUT', body });
      status.textContent = 'saved';
      status.className = 'status ok';
    } catch (e) {
      status.textContent = e.message;
      status.className = 'status error';
    }
  }
  return h('div.chaos-box', h('h3', 'Chaos triggers ', status), rows);
}

/** A textarea with a line-number gutter; Save PUTs the YAML and shows a lint error at its line. */
function yamlEditor(sc, listenerQuery) {
  const ta = h('textarea.yaml', { spellcheck: 'false', wrap: 'off', 'aria-label': `scenario ${sc.Name} YAML` });
  ta.value = sc.YAML || '';
  const gutter = h('div.gutter', { 'aria-hidden': 'true' });
  const mark = h('div.errline', { hidden: true });
  const status = h('div.status.editor-status');
  let badLine = 0;
  function renderGutter() {
    const n = ta.value.split('\n').length;
    const nums = [];
    for (let i = 1; i <= n; i++) nums.push(h('div', { class: i === badLine ? 'bad' : '' }, String(i)));
    gutter.replaceChildren(...nums);
    gutter.scrollTop = ta.scrollTop;
    placeMark();
  }
  function placeMark() {
    if (!badLine) { mark.hidden = true; return; }
    const lh = parseFloat(getComputedStyle(ta).lineHeight) || 18;
    const pad = parseFloat(getComputedStyle(ta).paddingTop) || 0;
    mark.hidden = false;
    mark.style.top = `${pad + (badLine - 1) * lh - ta.scrollTop}px`;
    mark.style.height = `${lh}px`;
  }
  ta.addEventListener('input', () => { ta.dataset.dirty = '1'; renderGutter(); });
  ta.addEventListener('scroll', () => { gutter.scrollTop = ta.scrollTop; placeMark(); });
  ta.addEventListener('keydown', (ev) => {
    if (ev.key === 'Tab' && !ev.shiftKey) { // YAML indents with spaces
      ev.preventDefault();
      ta.setRangeText('  ', ta.selectionStart, ta.selectionEnd, 'end');
      ta.dispatchEvent(new Event('input'));
    } else if ((ev.ctrlKey || ev.metaKey) && ev.key === 's') {
      ev.preventDefault();
      save();
    }
  });
  async function save() {
    status.className = 'status editor-status';
    status.textContent = 'saving…';
    try {
      const r = await fetch(`api/v1/scenario${listenerQuery}`, {
        method: 'PUT', body: ta.value, headers: { 'Content-Type': 'application/yaml' }, cache: 'no-store',
      });
      const text = await r.text();
      let data = null;
      try { data = JSON.parse(text); } catch { /* not JSON */ }
      if (!r.ok) {
        badLine = (data && data.Line) || 0;
        status.className = 'status editor-status error';
        status.dataset.line = String(badLine);
        status.textContent = data ? (data.Line ? `line ${data.Line}, column ${data.Column}: ${data.Message || data.Error}` : data.Error) : text;
        renderGutter();
        if (badLine) {
          const lines = ta.value.split('\n');
          const start = lines.slice(0, badLine - 1).reduce((n, l) => n + l.length + 1, 0);
          ta.focus();
          ta.setSelectionRange(start, start + (lines[badLine - 1] || '').length);
          const lh = parseFloat(getComputedStyle(ta).lineHeight) || 18;
          ta.scrollTop = Math.max(0, (badLine - 3) * lh);
        }
        return;
      }
      badLine = 0;
      ta.dataset.dirty = '';
      status.className = 'status editor-status ok';
      status.textContent = `saved: ${data && data.Name ? data.Name : 'ok'} (applies to new sessions)`;
      state.savedNote = { key: listenerQuery, text: status.textContent, until: Date.now() + 5000 };
      // Show what the server now runs (the "scenario" event may have come before this answer,
      // while the editor was still dirty, and been set aside).
      setTimeout(() => { if (state.route.view === 'scenario') renderScenario(); }, 600);
    } catch (e) {
      status.className = 'status editor-status error';
      status.textContent = e.message;
    }
  }
  const note = state.savedNote; // a save just made: keep saying so across re-renders
  if (note && note.key === listenerQuery && Date.now() < note.until) {
    status.className = 'status editor-status ok';
    status.textContent = note.text;
  }
  const wrap = h('div.editor', gutter, h('div.editor-text', mark, ta));
  renderGutter();
  return h('div.yaml-box',
    h('h3', 'YAML'),
    wrap,
    h('div.actions',
      h('button.primary.save', { type: 'button', onclick: save, title: 'Ctrl+S' }, 'Save'),
      h('button', { type: 'button', onclick: () => { ta.value = sc.YAML || ''; ta.dataset.dirty = ''; badLine = 0; status.textContent = ''; renderGutter(); } }, 'Revert'),
      status));
}

// ---------------------------------------------------------------------------------------------
// live updates: WebSocket, or polling while it is down

let wsBackoff = 500;
let pollTimer = null;

function setConn(s, text) {
  const el = $('#conn');
  el.dataset.state = s;
  el.textContent = text;
}

function connect() {
  let ws;
  try {
    const url = new URL('api/events', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.hash = '';
    ws = new WebSocket(url.href);
  } catch {
    startPolling();
    return;
  }
  state.ws = ws;
  ws.addEventListener('open', () => {
    state.wsOpen = true;
    wsBackoff = 500;
    setConn('live', 'live');
    stopPolling();
    resync(); // catch up on whatever happened while disconnected
  });
  ws.addEventListener('message', (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    try { onEvent(msg.Type, msg.Data); } catch (e) { showError(e); }
  });
  ws.addEventListener('close', () => {
    state.wsOpen = false;
    state.ws = null;
    setConn('polling', 'polling');
    startPolling();
    setTimeout(connect, wsBackoff);
    wsBackoff = Math.min(wsBackoff * 2, 30000);
  });
}

function startPolling() {
  if (pollTimer) return;
  pollTimer = setInterval(() => { if (!state.wsOpen) resync(); }, POLL_MS);
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

let resyncing = false;
/** Refetches what the current view shows (the polling fallback, and after a reconnect). */
async function resync() {
  if (resyncing || document.hidden) return;
  resyncing = true;
  try {
    const v = state.route.view;
    if (v === 'inbox' || v === 'message') {
      if (state.messages.length <= PAGE) { await loadMessages(); renderMessageList(); } else refreshStats();
    } else if (v === 'sessions' || v === 'session') {
      await loadSessions();
      renderSessionList();
      if (v === 'session' && state.current && state.current.kind === 'session' &&
          (state.current.Live || !state.current.Ended)) await openSession(state.route.id);
    }
  } catch { /* transient; the next tick retries */ } finally {
    resyncing = false;
  }
}

let searchRefetch = null;
function onEvent(type, d) {
  const v = state.route.view;
  const inInbox = v === 'inbox' || v === 'message';
  switch (type) {
    case 'new':
      if (d && d.SessionID && d.Scenario) state.scenarioBySession.set(d.SessionID, d.Scenario);
      if (state.query) {
        clearTimeout(searchRefetch);
        searchRefetch = setTimeout(() => { if (inInbox) loadMessages().then(renderMessageList).catch(() => {}); }, 200);
      } else if (d && !state.messages.some((m) => m.ID === d.ID)) {
        state.messages.unshift(d);
        state.messagesTotal += 1;
        if (state.messages.length > MAX_ITEMS) state.messages.length = MAX_ITEMS;
        if (!d.Read) setUnread(state.unread + 1);
        if (inInbox) renderMessageList();
      }
      break;
    case 'stats':
      if (d) setUnread(d.Unread);
      if (inInbox && !state.query && d && typeof d.Total === 'number') {
        state.messagesTotal = d.Total;
        renderMessageList();
      }
      break;
    case 'update': {
      const m = d && state.messages.find((x) => x.ID === d.ID);
      if (m) { m.Read = !!d.Read; if (inInbox) renderMessageList(); }
      break;
    }
    case 'delete':
      if (d) {
        const before = state.messages.length;
        state.messages = state.messages.filter((m) => m.ID !== d.ID);
        if (state.messages.length < before) state.messagesTotal = Math.max(0, state.messagesTotal - 1);
        if (inInbox) renderMessageList();
        if (v === 'message' && state.route.id === d.ID) {
          state.current = null;
          $('#detail-pane').replaceChildren(backLink(inboxHash(), 'Inbox'), h('p.empty', 'This message was deleted.'));
        }
      }
      break;
    case 'truncate':
      state.messages = [];
      state.messagesTotal = 0;
      setUnread(0);
      if (inInbox) renderMessageList();
      if (v === 'message') { state.current = null; $('#detail-pane').replaceChildren(backLink(inboxHash(), 'Inbox'), h('p.empty', 'All messages were deleted.')); }
      break;
    case 'prune':
      if (inInbox) loadMessages().then(renderMessageList).catch(() => {});
      else state.inboxLoaded = false;
      break;
    case 'session':
      if (d) onSessionEvent(d);
      break;
    case 'transcript':
      if (d) onTranscriptEvent(d);
      break;
    case 'finding':
      if (d) onFindingEvent(d);
      break;
    case 'scenario':
      if (v === 'scenario') renderScenario();
      break;
    default:
  }
}

function onSessionEvent(s) {
  state.scenarioBySession.set(s.ID, s.Scenario);
  const filtered = state.sessionListener && s.Listener &&
    s.Listener.Name.toLowerCase() !== state.sessionListener.toLowerCase();
  const v = state.route.view;
  if (!filtered) {
    const i = state.sessions.findIndex((x) => x.ID === s.ID);
    if (i >= 0) state.sessions[i] = s;
    else {
      state.sessions.unshift(s);
      state.sessionsTotal += 1;
      if (state.sessions.length > MAX_ITEMS) state.sessions.length = MAX_ITEMS;
    }
    updateLiveCount();
    if (v === 'sessions' || v === 'session') renderSessionList();
  }
  const cur = state.current;
  if (v === 'session' && cur && cur.kind === 'session' && cur.ID === s.ID) {
    const ended = cur.Live && !s.Live;
    Object.assign(cur, {
      Live: s.Live, Ended: s.Ended, Closed: s.Closed, Rules: s.Rules, FindingCounts: s.FindingCounts,
      MessageIDs: s.MessageIDs, Truncated: s.Truncated,
    });
    if (ended) openSession(s.ID); // the final transcript and findings
    else renderSession(cur);
  }
}

function onTranscriptEvent(d) {
  const cur = state.current;
  if (state.route.view !== 'session' || state.route.id !== d.Session) return;
  if (!(cur && cur.kind === 'session' && cur.ID === d.Session)) {
    // The session is still being fetched: keep the line, replayed once it is in (openSession).
    const pending = state.pendingLines || (state.pendingLines = []);
    if (pending.length < 10000) pending.push(d);
    return;
  }
  const lines = cur.Transcript || (cur.Transcript = []);
  if (d.Index < lines.length) return; // already have it
  if (d.Index > lines.length) { openSession(cur.ID); return; } // a gap: refetch the whole
  lines.push(d.Line);
  const tl = $('#transcript');
  if (!tl) return;
  const empty = $('p.empty', tl);
  if (empty) empty.remove();
  const detail = $('#detail-pane');
  const atBottom = detail.scrollHeight - detail.scrollTop - detail.clientHeight < 40;
  tl.append(transcriptRow(d.Line, d.Index, lines[d.Index - 1]));
  for (const f of (cur.Findings || []).filter((x) => x.Line === d.Index + 1)) tl.append(findingRow(f));
  if (atBottom) detail.scrollTop = detail.scrollHeight;
}

function onFindingEvent(d) {
  const cur = state.current;
  if (!(state.route.view === 'session' && cur && cur.kind === 'session' && cur.ID === d.Session)) return;
  const list = cur.Findings || (cur.Findings = []);
  if (list.some((f) => f.Code === d.Finding.Code && f.Line === d.Finding.Line && f.Time === d.Finding.Time)) return;
  list.push(d.Finding);
  cur.FindingCounts = countFindings(list);
  renderSession(cur);
}

// ---------------------------------------------------------------------------------------------
// keyboard: ↑/↓ or j/k move in the list, Enter opens, Delete deletes (inbox), / focuses search

function visibleRows() {
  return [...document.querySelectorAll('#message-list .row, #session-list .row')];
}

document.addEventListener('keydown', (ev) => {
  const t = ev.target;
  if (ev.defaultPrevented || ev.altKey || ev.ctrlKey || ev.metaKey) return;
  if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) return;
  const v = state.route.view;
  if (!['inbox', 'message', 'sessions', 'session'].includes(v)) return;
  const rows = visibleRows();
  if (ev.key === '/' && $('#search')) {
    ev.preventDefault();
    $('#search').focus();
    return;
  }
  if (!rows.length) return;
  let i = rows.findIndex((r) => r.classList.contains('cursor'));
  if (i < 0) i = rows.findIndex((r) => r.classList.contains('selected'));
  if (ev.key === 'ArrowDown' || ev.key === 'j') i = Math.min(rows.length - 1, i + 1);
  else if (ev.key === 'ArrowUp' || ev.key === 'k') i = Math.max(0, i - 1);
  else if (ev.key === 'Enter' || ev.key === 'o') {
    if (i >= 0 && rows[i]) { ev.preventDefault(); rows[i].click(); }
    return;
  } else if ((ev.key === 'Delete' || ev.key === '#') && (v === 'inbox' || v === 'message')) {
    const id = i >= 0 && rows[i] ? rows[i].dataset.messageId : v === 'message' ? state.route.id : null;
    if (id) { ev.preventDefault(); deleteMessages([id]).then(() => focusRow(Math.min(i, visibleRows().length - 1))); }
    return;
  } else if (ev.key === 'Escape' && (v === 'message' || v === 'session')) {
    go(v === 'message' ? inboxHash() : '#/sessions');
    return;
  } else return;
  ev.preventDefault();
  focusRow(i);
});

function focusRow(i) {
  const rows = visibleRows();
  if (i < 0 || !rows[i]) return;
  for (const r of rows) r.classList.remove('cursor');
  rows[i].classList.add('cursor');
  state.cursorId = rows[i].dataset.messageId || rows[i].dataset.sessionId;
  rows[i].focus({ preventScroll: true });
  rows[i].scrollIntoView({ block: 'nearest' });
}

/** After a list is rebuilt (live events), the keyboard cursor stays on the same item. */
function restoreCursor(ul, hadFocus) {
  if (!state.cursorId) return;
  const row = [...ul.querySelectorAll('.row')].find((r) => (r.dataset.messageId || r.dataset.sessionId) === state.cursorId);
  if (!row) return;
  row.classList.add('cursor');
  if (hadFocus) row.focus({ preventScroll: true });
}

// ---------------------------------------------------------------------------------------------
// start

window.addEventListener('hashchange', () => { clearError(); onRoute(); });
document.addEventListener('visibilitychange', () => { if (!document.hidden && !state.wsOpen) resync(); });
// Session durations of live sessions tick in the list.
setInterval(() => {
  if (state.route.view !== 'sessions' && state.route.view !== 'session') return;
  for (const s of state.sessions.filter((x) => x.Live)) {
    const meta = document.querySelector(`#session-list [data-session-id="${CSS.escape(s.ID)}"] .meta`);
    if (meta) meta.textContent = sessionMeta(s);
  }
}, 1000);

if (!location.hash) history.replaceState(null, '', '#/inbox');
onRoute();
connect();
