// docs/openapi.yaml against the real server: the document is valid OpenAPI
// (@seriousme/openapi-schema-validator), every operation it lists is called at least once
// (with error cases: 400, 401, 404, 405, 408, 413), and every answer is checked against the
// document: its status must be documented for the operation, its Content-Type must be one of
// that response's media types, documented headers must be there, and the body must satisfy
// the media type's schema, compiled from the document by Ajv (JSON Schema 2020-12, as OpenAPI
// 3.1 uses it, with ajv-formats). Each GET is repeated as HEAD (same status and type, no body).
// GET /api/v1/openapi.json must be the YAML file, parsed.
//
// Started by tests/integration/test_openapi.py, which passes in the environment:
//   SMTPMOCK_HTTP_URL=http://127.0.0.1:PORT  SMTPMOCK_SMTP_HOST=127.0.0.1  SMTPMOCK_SMTP_PORT=PORT
//   SMTPMOCK_HTTP_AUTH=USER:PASSWORD (the server runs with --http-auth)
//   SMTPMOCK_OPENAPI=/path/to/docs/openapi.yaml
// The tests run in order and share the messages they make. Every request is bounded in time;
// only 127.0.0.1 is used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const YAML = require('yaml');
const { Validator } = require('@seriousme/openapi-schema-validator');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormatsModule = require('ajv-formats');
const nodemailer = require('nodemailer');

const addFormats = addFormatsModule.default ?? addFormatsModule;

const httpUrl = process.env.SMTPMOCK_HTTP_URL;
const smtpHost = process.env.SMTPMOCK_SMTP_HOST || '127.0.0.1';
const smtpPort = Number(process.env.SMTPMOCK_SMTP_PORT);
const credentials = process.env.SMTPMOCK_HTTP_AUTH || '';
const docPath = process.env.SMTPMOCK_OPENAPI;
assert.ok(httpUrl && smtpPort && docPath,
          'SMTPMOCK_HTTP_URL, SMTPMOCK_SMTP_PORT and SMTPMOCK_OPENAPI must be set');

const docText = readFileSync(docPath, 'utf8');
const doc = YAML.parse(docText);  // throws on duplicate keys and syntax errors
const DOC_ID = 'urn:smtpmock:openapi';
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// Ajv compiles each schema of the document where it stands, by JSON pointer, so that its
// $refs (#/components/schemas/...) resolve inside the document.
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, DOC_ID);
const compiled = new Map();
function schemaAt(pointer) {
  if (!compiled.has(pointer)) compiled.set(pointer, ajv.compile({ $ref: `${DOC_ID}${pointer}` }));
  return compiled.get(pointer);
}
const esc = (s) => String(s).replace(/~/g, '~0').replace(/\//g, '~1');

function at(pointer) {
  let node = doc;
  for (const part of pointer.replace(/^#\//, '').split('/')) {
    node = node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  assert.ok(node !== undefined, `no ${pointer} in the document`);
  return node;
}
/// Follows a Reference Object to what it names: [pointer, object].
function deref(pointer) {
  let node = at(pointer);
  while (node && typeof node.$ref === 'string') {
    pointer = node.$ref;
    node = at(pointer);
  }
  return [pointer, node];
}

const exercised = new Set();  // "GET /api/v1/messages"
const checked = { responses: 0, heads: 0, statuses: new Set() };

function mediaKey(content, essence) {
  if (!content) return undefined;
  if (essence in content) return essence;
  const range = `${essence.split('/')[0]}/*`;
  if (range in content) return range;
  if ('*/*' in content) return '*/*';
  return undefined;
}

/// Checks one real answer against the document: `pointer` is the Response Object it must meet.
function checkResponse(what, pointer, r) {
  const [responsePointer, response] = deref(pointer);
  const contentType = r.headers.get('content-type') || '';
  const essence = contentType.split(';')[0].trim().toLowerCase();
  const key = mediaKey(response.content, essence);
  assert.ok(key, `${what}: answered ${r.status} with Content-Type '${contentType}', but the ` +
                 `document lists ${JSON.stringify(Object.keys(response.content || {}))}`);
  for (const [name, header] of Object.entries(response.headers || {})) {
    const [headerPointer, h] = deref(`${responsePointer}/headers/${esc(name)}`);
    const value = r.headers.get(name);
    if (h.required) assert.ok(value !== null, `${what}: the ${r.status} lacks header ${name}`);
    if (value !== null && h.schema) {
      const validate = schemaAt(`${headerPointer}/schema`);
      assert.ok(validate(value), `${what}: header ${name}: ${value}: ` +
                                 ajv.errorsText(validate.errors));
    }
  }
  const media = response.content[key];
  if (media.schema) {
    const json = essence === 'application/json' || essence.endsWith('+json');
    let body;
    if (json) {
      try {
        body = JSON.parse(r.text);
      } catch (e) {
        assert.fail(`${what}: ${essence} body is not JSON (${e.message}): ${r.text.slice(0, 200)}`);
      }
    } else {
      body = essence.startsWith('text/') ? r.text : r.buffer.toString('latin1');
    }
    const validate = schemaAt(`${responsePointer}/content/${esc(key)}/schema`);
    assert.ok(validate(body),
              `${what}: ${r.status} ${essence} body does not match the document: ` +
              `${ajv.errorsText(validate.errors, { separator: '; ' })}\n` +
              `body: ${r.text.slice(0, 600)}`);
  }
  checked.responses += 1;
}

/// One request to `template` (a path of the document, `{Name}` filled from `params`), its answer
/// checked against the document. Answers of a method a path does not list must be the 405 of
/// components/responses/MethodNotAllowed with an Allow naming exactly the path's methods; a
/// path the document does not list must be its NotFound.
async function call(method, template, { params = {}, query = {}, headers = {}, body, json,
                                        auth = true, status } = {}) {
  const path = template.replace(/\{(\w+)\}/g, (_, name) => {
    assert.ok(name in params, `${template}: no value for {${name}}`);
    return encodeURIComponent(params[name]);
  });
  const url = new URL(path, httpUrl);
  for (const [k, v] of Object.entries(query)) url.searchParams.append(k, v);
  const h = { ...headers };
  if (auth && credentials) h.Authorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
  if (json !== undefined) {
    body = JSON.stringify(json);
    h['Content-Type'] = 'application/json';
  }
  const res = await fetch(url, { method, headers: h, body, signal: AbortSignal.timeout(30000) });
  const buffer = Buffer.from(await res.arrayBuffer());
  const r = { status: res.status, headers: res.headers, buffer, text: buffer.toString('utf8') };
  const what = `${method} ${url.pathname}${url.search}`;
  if (status !== undefined) assert.equal(r.status, status, `${what}: ${r.text.slice(0, 400)}`);
  checked.statuses.add(r.status);

  const pathItem = doc.paths[template];
  const op = pathItem?.[method.toLowerCase()];
  if (!pathItem) {
    assert.equal(r.status, 404, `${what}: not in the document, so it must be a 404`);
    checkResponse(what, '#/components/responses/NotFound', r);
  } else if (!op) {
    assert.equal(r.status, 405, `${what}: the document has no ${method} here, so it must be 405`);
    checkResponse(what, '#/components/responses/MethodNotAllowed', r);
    const allowed = (r.headers.get('allow') || '').split(',').map((m) => m.trim().toLowerCase())
      .filter((m) => m && m !== 'head' && m !== 'options').sort();
    const documented = METHODS.filter((m) => m in pathItem).sort();
    assert.deepEqual(allowed, documented, `${what}: Allow names other methods than the document`);
  } else {
    exercised.add(`${method.toUpperCase()} ${template}`);
    const code = String(r.status);
    const responses = op.responses || {};
    const name = code in responses ? code : `${code[0]}XX` in responses ? `${code[0]}XX`
                                                                         : 'default';
    assert.ok(name in responses, `${what}: status ${code} is not documented for this operation ` +
                                 `(documented: ${Object.keys(responses).join(', ')}): ` +
                                 r.text.slice(0, 300));
    checkResponse(what, `#/paths/${esc(template)}/${method.toLowerCase()}/responses/${name}`, r);
  }
  if (method === 'GET') {
    // As the document says, every GET also answers HEAD: same status and type, no body.
    const head = await fetch(url, { method: 'HEAD', headers: h, signal: AbortSignal.timeout(30000) });
    const headBody = Buffer.from(await head.arrayBuffer());
    assert.equal(head.status, r.status, `HEAD ${url.pathname}${url.search}: status`);
    assert.equal(head.headers.get('content-type'), r.headers.get('content-type'),
                 `HEAD ${url.pathname}${url.search}: Content-Type`);
    assert.equal(headBody.length, 0, `HEAD ${url.pathname}${url.search}: a body`);
    checked.heads += 1;
  }
  return r;
}
const parse = (r) => JSON.parse(r.text);

// A 1x1 PNG, for an inline image and its thumbnail.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
                        'base64');

async function sendSmtp(message) {
  const t = nodemailer.createTransport({
    host: smtpHost, port: smtpPort, secure: false, ignoreTLS: true, name: 'openapi.client.example',
    connectionTimeout: 10000, greetingTimeout: 10000, socketTimeout: 10000,
  });
  try {
    return await t.sendMail(message);
  } finally {
    t.close();
  }
}

// Shared by the tests below, in order.
const ids = {};

test('the document is valid OpenAPI 3.1', async () => {
  const result = await new Validator().validate(doc);
  assert.ok(result.valid, JSON.stringify(result.errors, null, 1));
  assert.match(doc.openapi, /^3\.1\./);
  // Every schema in the document compiles.
  for (const name of Object.keys(doc.components.schemas)) schemaAt(`#/components/schemas/${name}`);
});

test('GET /api/v1/openapi.json is docs/openapi.yaml as JSON', async () => {
  const r = await call('GET', '/api/v1/openapi.json', { status: 200 });
  assert.deepStrictEqual(parse(r), YAML.parse(docText));
});

test('health, metrics and the page', async () => {
  assert.equal((await call('GET', '/livez', { auth: false, status: 200 })).text, 'ok\n');
  await call('GET', '/readyz', { auth: false, status: 200 });
  const metrics = await call('GET', '/metrics', { status: 200 });
  assert.match(metrics.text, /smtpmock_messages_total/);
  const page = await call('GET', '/', { status: 200 });
  for (const file of page.text.matchAll(/(?:src|href)="ui\/([^"]+)"/g)) {
    await call('GET', '/ui/{File}', { params: { File: file[1] }, status: 200 });
  }
  await call('GET', '/ui/{File}', { params: { File: 'no-such-file.js' }, status: 404 });
  // Not a WebSocket upgrade (fetch cannot send one): a 400 naming what is missing.
  await call('GET', '/api/events', { status: 400 });
  await call('GET', '/api/v1/info', { status: 200 });
});

test('messages captured over SMTP: list, one, latest, headers, raw, parts, thumbnail, search, wait', async () => {
  await call('DELETE', '/api/v1/messages', { status: 200 });
  await sendSmtp({
    from: 'Alice Sender <alice@openapi.example>',
    to: 'Bob Receiver <bob@openapi.example>',
    cc: 'carol@openapi.example',
    subject: 'openapi A',
    text: 'the text part of A',
    html: '<p>the HTML part of A</p><img src="cid:logo@openapi.example">',
    headers: { 'List-Unsubscribe': '<mailto:unsub@openapi.example>, <https://openapi.example/u>' },
    attachments: [
      { filename: 'note.txt', content: 'attached text', contentType: 'text/plain' },
      { filename: 'logo.png', content: PNG, contentType: 'image/png', cid: 'logo@openapi.example' },
    ],
  });
  await sendSmtp({
    from: 'alice@openapi.example',
    to: 'dave@openapi.example',
    replyTo: 'Reply Here <reply@openapi.example>',
    subject: 'openapi B',
    text: 'plain text only',
  });
  const waited = parse(await call('GET', '/api/v1/messages/wait',
                                  { query: { count: '2', timeout: '10' }, status: 200 }));
  assert.equal(waited.messages_count, 2);

  const list = parse(await call('GET', '/api/v1/messages', { query: { limit: '10' }, status: 200 }));
  assert.equal(list.total, 2);
  const a = list.messages.find((m) => m.Subject === 'openapi A');
  const b = list.messages.find((m) => m.Subject === 'openapi B');
  ids.a = a.ID;
  ids.b = b.ID;

  const message = parse(await call('GET', '/api/v1/message/{ID}', { params: { ID: ids.a },
                                                                   status: 200 }));
  assert.equal(message.Attachments.length, 1);
  assert.equal(message.Inline.length, 1);
  ids.attachment = message.Attachments[0].PartID;
  ids.inline = message.Inline[0].PartID;
  await call('GET', '/api/v1/message/{ID}', { params: { ID: 'latest' }, status: 200 });
  await call('GET', '/api/v1/message/{ID}/headers', { params: { ID: ids.a }, status: 200 });
  const raw = await call('GET', '/api/v1/message/{ID}/raw', { params: { ID: ids.b }, status: 200 });
  assert.match(raw.text, /Subject: openapi B/);
  const part = await call('GET', '/api/v1/message/{ID}/part/{PartID}',
                          { params: { ID: ids.a, PartID: ids.attachment }, status: 200 });
  assert.equal(part.text, 'attached text');
  await call('GET', '/api/v1/message/{ID}/part/{PartID}',
             { params: { ID: ids.a, PartID: ids.inline }, status: 200 });
  const found = parse(await call('GET', '/api/v1/search',
                                 { query: { query: 'subject:"openapi B"' }, status: 200 }));
  assert.equal(found.messages_count, 1);
});

test('thumbnails of an image part and of a part that is not an image', async () => {
  const thumb = await call('GET', '/api/v1/message/{ID}/part/{PartID}/thumb',
                           { params: { ID: ids.a, PartID: ids.inline }, status: 200 });
  assert.deepEqual([...thumb.buffer.subarray(0, 3)], [0xff, 0xd8, 0xff]);  // a JPEG
  await call('GET', '/api/v1/message/{ID}/part/{PartID}/thumb',
             { params: { ID: ids.a, PartID: ids.attachment }, status: 200 });  // blank
  await call('GET', '/api/v1/message/{ID}/part/{PartID}/thumb',
             { params: { ID: 'no-such-id', PartID: '1' }, status: 404 });
});

test('views: html, txt, raw and their plain-text errors', async () => {
  const html = await call('GET', '/view/{ID}.html', { params: { ID: ids.a }, status: 200 });
  assert.match(html.text, /the HTML part of A/);
  await call('GET', '/view/{ID}.html', { params: { ID: ids.a }, query: { remote: '1' }, status: 200 });
  await call('GET', '/view/{ID}.txt', { params: { ID: ids.a }, status: 200 });
  await call('GET', '/view/{ID}.raw', { params: { ID: 'latest' }, status: 200 });
  await call('GET', '/view/{ID}.txt', { params: { ID: 'latest' },
                                        query: { query: 'subject:"openapi A"' }, status: 200 });
  await call('GET', '/view/{ID}.html', { params: { ID: ids.b }, status: 404 });  // no HTML part
  await call('GET', '/view/{ID}.raw', { params: { ID: 'no-such-id' }, status: 404 });
  await call('GET', '/view/{ID}.txt', { params: { ID: 'latest' }, query: { query: 'is:flagged' },
                                        status: 400 });
});

test('POST /api/v1/send and tags', async () => {
  const sent = parse(await call('POST', '/api/v1/send', {
    status: 200,
    json: {
      From: { Email: 'sender@api.example', Name: 'API Sender' },
      To: [{ Email: 'to@api.example', Name: 'To Person' }],
      Cc: [{ Email: 'cc@api.example' }],
      Bcc: ['bcc@api.example'],
      ReplyTo: [{ Email: 'reply@api.example', Name: 'Reply' }],
      Subject: 'sent over the API',
      Text: 'API text',
      HTML: '<p>API HTML</p>',
      Attachments: [{ Content: Buffer.from('hello').toString('base64'), Filename: 'hello.txt',
                      ContentType: 'text/plain' }],
      Headers: { 'X-OpenAPI-Test': 'yes' },
      Tags: ['api'],
    },
  }));
  ids.sent = sent.ID;
  const message = parse(await call('GET', '/api/v1/message/{ID}', { params: { ID: ids.sent },
                                                                   status: 200 }));
  assert.equal(message.Subject, 'sent over the API');
  assert.deepEqual(message.Tags, ['api']);
  await call('POST', '/api/v1/send', { json: { Subject: 'no From' }, status: 400 });

  await call('PUT', '/api/v1/tags', { json: { IDs: [ids.a], Tags: ['alpha', 'beta'] },
                                      status: 200 });
  const tags = parse(await call('GET', '/api/v1/tags', { status: 200 }));
  assert.ok(tags.includes('alpha') && tags.includes('beta') && tags.includes('api'), tags);
  await call('PUT', '/api/v1/tags/{Tag}', { params: { Tag: 'alpha' }, json: { Name: 'gamma' },
                                            status: 200 });
  await call('DELETE', '/api/v1/tags/{Tag}', { params: { Tag: 'beta' }, status: 200 });
  const a = parse(await call('GET', '/api/v1/message/{ID}', { params: { ID: ids.a }, status: 200 }));
  assert.deepEqual(a.Tags, ['gamma']);
  await call('PUT', '/api/v1/tags', { json: { IDs: 'not a list', Tags: [] }, status: 400 });
  await call('PUT', '/api/v1/tags', { json: { IDs: ['no-such-id'], Tags: ['x'] }, status: 404 });
  await call('PUT', '/api/v1/tags/{Tag}', { params: { Tag: 'gamma' }, json: { Name: 123 },
                                            status: 400 });
  await call('PUT', '/api/v1/tags/{Tag}', { params: { Tag: 'no-such-tag' }, json: { Name: 'x' },
                                            status: 404 });
  await call('DELETE', '/api/v1/tags/{Tag}', { params: { Tag: 'no-such-tag' }, status: 404 });
});

test('MailHog shapes', async () => {
  await call('GET', '/api/v1/messages/{ID}', { params: { ID: ids.a }, status: 200 });
  await call('GET', '/api/v2/messages', { query: { limit: '10' }, status: 200 });
  await call('GET', '/api/v2/search', { query: { kind: 'from', query: 'alice' }, status: 200 });
  await call('GET', '/api/v2/search', { query: { kind: 'subject', query: 'x' }, status: 400 });
});

test('sessions and transcripts', async () => {
  const sessions = parse(await call('GET', '/api/v1/sessions', { query: { limit: '5' },
                                                               status: 200 }));
  assert.ok(sessions.sessions.length >= 2);
  const id = sessions.sessions[0].ID;
  await call('GET', '/api/v1/session/{ID}', { params: { ID: id }, status: 200 });
  await call('GET', '/api/v1/session/{ID}/transcript', { params: { ID: id }, status: 200 });
  const text = await call('GET', '/api/v1/session/{ID}/transcript',
                          { params: { ID: id }, headers: { Accept: 'text/plain' }, status: 200 });
  assert.match(text.text, / -> MAIL FROM:/);
  await call('GET', '/api/v1/session/{ID}', { params: { ID: 'no-such-session' }, status: 404 });
  // Findings: nodemailer names itself with the host name, so there may be info findings.
  const findings = parse(await call('GET', '/api/v1/findings', { status: 200 }));
  assert.ok(Array.isArray(findings));
  await call('GET', '/api/v1/findings', { query: { session: id, severity: 'error' }, status: 200 });
  await call('GET', '/api/v1/findings', { query: { code: 'no-helo' }, status: 200 });
  await call('GET', '/api/v1/findings', { query: { severity: 'fatal' }, status: 400 });
  await call('GET', '/api/v1/findings', { query: { session: 'no-such-session' }, status: 404 });
});

test('scenario, chaos and Jim', async () => {
  const scenario = parse(await call('GET', '/api/v1/scenario', { status: 200 }));
  const yaml = await call('GET', '/api/v1/scenario', { headers: { Accept: 'application/yaml' },
                                                       status: 200 });
  assert.equal(yaml.text, scenario.YAML);
  await call('PUT', '/api/v1/scenario', { body: scenario.YAML,
                                          headers: { 'Content-Type': 'application/yaml' },
                                          status: 200 });
  const bad = parse(await call('PUT', '/api/v1/scenario', {
    body: 'name: broken\nrules: [\n', headers: { 'Content-Type': 'application/yaml' }, status: 400,
  }));
  assert.ok(bad.Line >= 1, bad);
  await call('PUT', '/api/v1/scenario', { body: ' ', status: 400 });

  await call('GET', '/api/v1/chaos', { status: 200 });
  await call('PUT', '/api/v1/chaos', { json: { Sender: { ErrorCode: 451, Probability: 0 } },
                                       status: 200 });
  await call('PUT', '/api/v1/chaos', { json: { Sender: { ErrorCode: 200 } }, status: 400 });
  await call('PUT', '/api/v1/chaos', { json: {}, status: 200 });

  await call('GET', '/api/v2/jim', { status: 404 });  // off
  await call('PUT', '/api/v2/jim', { json: { AcceptChance: 1 }, status: 404 });
  await call('POST', '/api/v2/jim', { json: { AcceptChance: 1, DisconnectChance: 0 },
                                      status: 201 });
  await call('GET', '/api/v2/jim', { status: 200 });
  await call('PUT', '/api/v2/jim', { json: { LinkSpeedMin: 1024, LinkSpeedMax: 2048 },
                                     status: 200 });
  await call('PUT', '/api/v2/jim', { json: { AcceptChance: 2 }, status: 400 });
  await call('DELETE', '/api/v2/jim', { status: 200 });
});

test('client mistakes: 400, 401, 404, 405, 408, 413', async () => {
  // 401: every route but the health checks needs the credentials.
  await call('GET', '/api/v1/messages', { auth: false, status: 401 });
  await call('GET', '/metrics', { auth: false, status: 401 });
  await call('GET', '/view/{ID}.txt', { params: { ID: 'latest' }, auth: false, status: 401 });
  // 400
  await call('GET', '/api/v1/messages', { query: { limit: '0' }, status: 400 });
  await call('GET', '/api/v1/search', { query: { query: 'is:flagged' }, status: 400 });
  await call('GET', '/api/v1/search', { status: 400 });  // no query
  await call('GET', '/api/v1/messages/wait', { query: { timeout: 'soon' }, status: 400 });
  await call('GET', '/api/v1/sessions', { query: { start: '-1' }, status: 400 });
  // 404
  await call('GET', '/api/v1/message/{ID}', { params: { ID: 'no-such-id' }, status: 404 });
  await call('GET', '/api/v1/message/{ID}/part/{PartID}',
             { params: { ID: ids.a, PartID: '9.9' }, status: 404 });
  await call('GET', '/api/v1/messages/{ID}', { params: { ID: 'no-such-id' }, status: 404 });
  await call('GET', '/api/v1/no-such-route', { status: 404 });
  // 405, with Allow naming the documented methods
  await call('POST', '/api/v1/info', { status: 405 });
  await call('DELETE', '/livez', { auth: false, status: 405 });
  await call('PATCH', '/api/v1/messages', { json: {}, status: 405 });
  await call('POST', '/view/{ID}.html', { params: { ID: 'latest' }, status: 405 });
  // 408: the long-poll's time runs out
  const timedOut = parse(await call('GET', '/api/v1/messages/wait',
                                    { query: { count: '1000', timeout: '0.2' }, status: 408 }));
  assert.ok(timedOut.messages_count >= 1);
  // 413: a body over 1 MiB
  await call('PUT', '/api/v1/scenario', { body: 'x'.repeat((1 << 20) + 10), status: 413 });
});

test('read status, bulk and single deletes', async () => {
  await call('PUT', '/api/v1/messages', { json: { IDs: [ids.a], Read: true }, status: 200 });
  await call('PUT', '/api/v1/messages', { json: { Read: false, Search: 'subject:"openapi B"' },
                                          status: 200 });
  await call('PUT', '/api/v1/messages', { json: { IDs: [ids.a], Search: 'x' }, status: 400 });
  await call('DELETE', '/api/v1/messages/{ID}', { params: { ID: ids.b }, status: 200 });
  await call('DELETE', '/api/v1/messages/{ID}', { params: { ID: ids.b }, status: 404 });
  await call('DELETE', '/api/v1/search', { query: { query: 'subject:"sent over the API"' },
                                           status: 200 });
  await call('DELETE', '/api/v1/messages', { json: { Idz: [] }, status: 400 });
  await call('DELETE', '/api/v1/messages', { json: { IDs: [ids.a] }, status: 200 });
  const left = parse(await call('GET', '/api/v1/messages', { status: 200 }));
  assert.equal(left.total, 0, JSON.stringify(left.messages.map((m) => m.Subject)));
});

test('every operation in the document was called', () => {
  const missing = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      if (item[method] && !exercised.has(`${method.toUpperCase()} ${path}`)) {
        missing.push(`${method.toUpperCase()} ${path}`);
      }
    }
  }
  assert.deepEqual(missing, [], `documented but never called: ${missing.join(', ')}`);
  console.log(`# openapi: ${exercised.size} operations called, ${checked.responses} answers ` +
              `checked (and ${checked.heads} HEADs), statuses ` +
              `${[...checked.statuses].sort().join(' ')}`);
});
