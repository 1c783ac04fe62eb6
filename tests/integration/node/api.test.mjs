// smtpmock's HTTP API through the client libraries people already use with Mailpit and
// MailHog (npm mailpit-api and mailhog), against the real binary. Started by
// tests/integration/test_http.py, which passes the server's addresses in the environment:
//   SMTPMOCK_HTTP_URL=http://127.0.0.1:PORT  SMTPMOCK_SMTP_HOST=127.0.0.1  SMTPMOCK_SMTP_PORT=PORT
// Run by hand: node --test tests/integration/node/api.test.mjs (with those variables set).
// Every wait is bounded; only 127.0.0.1 is used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { MailpitClient } from 'mailpit-api';

const require = createRequire(import.meta.url);
const nodemailer = require('nodemailer');
const mailhog = require('mailhog');

const httpUrl = process.env.SMTPMOCK_HTTP_URL;
const smtpHost = process.env.SMTPMOCK_SMTP_HOST || '127.0.0.1';
const smtpPort = Number(process.env.SMTPMOCK_SMTP_PORT);
assert.ok(httpUrl && smtpPort, 'SMTPMOCK_HTTP_URL and SMTPMOCK_SMTP_PORT must be set');
const httpPort = Number(new URL(httpUrl).port);

const mailpit = new MailpitClient(httpUrl);
const hog = mailhog({ host: '127.0.0.1', port: httpPort });

function transport() {
  return nodemailer.createTransport({
    host: smtpHost,
    port: smtpPort,
    secure: false,
    ignoreTLS: true,
    name: 'node.client.example',
    connectionTimeout: 10000,
    greetingTimeout: 10000,
    socketTimeout: 10000,
  });
}

// MailHog's client looks for the text body among the top-level parts only, as MailHog shows
// them, so its messages are sent without an HTML alternative (which nests the text part).
async function send(subject, { to = ['Bob Receiver <bob@dest.example>'], text = 'hello',
                               html = true } = {}) {
  const t = transport();
  try {
    return await t.sendMail({
      from: 'Alice Sender <alice@node.example>',
      to,
      subject,
      text,
      ...(html ? { html: `<p>${text}</p>` } : {}),
      attachments: [{ filename: 'note.txt', content: 'attached text',
                      contentType: 'application/octet-stream' }],
    });
  } finally {
    t.close();
  }
}

test('mailpit-api: list, get by id and latest, headers, raw, search, wait, delete', async () => {
  await mailpit.deleteMessages();
  assert.equal((await mailpit.listMessages()).total, 0);

  await send('first message ✓');
  await send('second message', { to: ['carol@dest.example'] });

  const list = await mailpit.listMessages();
  assert.equal(list.total, 2);
  assert.equal(list.messages_count, 2);
  assert.equal(list.messages.length, 2);
  const [newest, oldest] = list.messages;
  assert.equal(newest.Subject, 'second message');
  assert.equal(oldest.Subject, 'first message ✓');
  assert.deepEqual(oldest.From, { Name: 'Alice Sender', Address: 'alice@node.example' });
  assert.deepEqual(oldest.To, [{ Name: 'Bob Receiver', Address: 'bob@dest.example' }]);
  assert.equal(oldest.Attachments, 1);
  assert.match(oldest.Snippet, /hello/);
  assert.equal(typeof oldest.SessionID, 'string');
  assert.equal(oldest.Envelope.Helo, 'node.client.example');
  assert.equal(oldest.Envelope.MailFrom, 'alice@node.example');

  const byId = await mailpit.getMessageSummary(oldest.ID);
  assert.equal(byId.ID, oldest.ID);
  assert.equal(byId.Subject, 'first message ✓');
  assert.match(byId.Text, /hello/);
  assert.match(byId.HTML, /<p>hello<\/p>/);
  assert.equal(byId.Attachments.length, 1);
  assert.equal(byId.Attachments[0].FileName, 'note.txt');
  assert.equal(byId.Attachments[0].Size, 'attached text'.length);

  const latest = await mailpit.getMessageSummary();
  assert.equal(latest.ID, newest.ID);

  const headers = await mailpit.getMessageHeaders(oldest.ID);
  assert.ok(Array.isArray(headers.Subject));
  assert.ok(headers['Content-Type'][0].startsWith('multipart/'));

  const raw = await mailpit.getMessageSource(oldest.ID);
  assert.match(raw, /^From: /m);
  assert.match(raw, /attached text|YXR0YWNoZWQgdGV4dA/);

  const found = await mailpit.searchMessages({ query: 'to:carol@dest.example' });
  assert.equal(found.messages_count, 1);
  assert.equal(found.messages[0].ID, newest.ID);
  const none = await mailpit.searchMessages({ query: 'subject:"no such subject"' });
  assert.equal(none.messages_count, 0);

  // The getMessageSummary calls above marked both messages read.
  assert.equal((await mailpit.listMessages()).unread, 0);

  setTimeout(() => send('third message').catch(() => {}), 300);
  const waited = await mailpit.waitForMessages({ query: 'subject:third', count: 1 },
                                               { timeout: 10000, interval: 100 });
  assert.equal(waited.messages[0].Subject, 'third message');

  await mailpit.deleteMessages({ IDs: [oldest.ID] });
  const after = await mailpit.listMessages();
  assert.equal(after.total, 2);
  assert.ok(!after.messages.some((m) => m.ID === oldest.ID));

  const info = await mailpit.getInfo();
  assert.equal(info.Messages, 2);
  assert.ok(info.RuntimeStats.SMTPAccepted >= 3);

  await mailpit.deleteMessages();
  assert.equal((await mailpit.listMessages()).total, 0);
});

test('mailpit-api: send, tags, read all, view, thumbnails and delete all', async () => {
  await mailpit.deleteMessages();
  const png = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==',
    'base64');
  const { ID } = await mailpit.sendMessage({
    From: { Email: 'shop@node.example', Name: 'The Shop' },
    To: [{ Email: 'bob+orders@dest.example', Name: 'Bob' }],
    Bcc: ['audit@dest.example'],
    Subject: 'Your order ✓',
    Text: 'order text',
    HTML: '<p>order <img src="cid:logo"></p>',
    Tags: ['Receipts'],
    Headers: { 'X-Order': '42' },
    Attachments: [
      { Content: Buffer.from('a,b\n1,2\n').toString('base64'), Filename: 'order.csv',
        ContentType: 'text/csv' },
      { Content: png.toString('base64'), Filename: 'logo.png', ContentID: 'logo' },
    ],
  });
  assert.match(ID, /^[A-Za-z0-9]{22}$/);
  const sent = await mailpit.getMessageSummary(ID);
  assert.equal(sent.Subject, 'Your order ✓');
  assert.deepEqual(sent.From, { Name: 'The Shop', Address: 'shop@node.example' });
  assert.deepEqual(sent.Bcc, [{ Name: '', Address: 'audit@dest.example' }]);
  assert.deepEqual(sent.Tags, ['Receipts', 'orders']);
  assert.equal(sent.Attachments[0].FileName, 'order.csv');
  assert.equal(sent.Inline[0].ContentType, 'image/png');
  assert.deepEqual((await mailpit.getMessageHeaders(ID))['X-Order'], ['42']);
  const csv = await mailpit.getMessageAttachment(ID, sent.Attachments[0].PartID);
  assert.equal(csv.type.split(';')[0], 'text/csv');
  assert.equal(await csv.text(), 'a,b\n1,2\n');

  // The thumbnail of the inline PNG is a JPEG.
  const thumb = Buffer.from(await (await mailpit.getAttachmentThumbnail(
    ID, sent.Inline[0].PartID)).arrayBuffer());
  assert.equal(thumb[0], 0xff);
  assert.equal(thumb[1], 0xd8);

  // Views: the cid: image points at its part.
  const html = await mailpit.renderMessageHTML(ID);
  assert.match(html, new RegExp(`/api/v1/message/${ID}/part/${sent.Inline[0].PartID}`));
  assert.equal((await mailpit.renderMessageText()).trim(), 'order text');

  // Tags: set, list, search, rename, delete.
  await send('plain one');
  const plain = (await mailpit.searchMessages({ query: 'subject:"plain one"' })).messages[0];
  assert.deepEqual(plain.Tags, []);
  assert.equal(await mailpit.setTags({ IDs: [plain.ID], Tags: ['Receipts', 'Second'] }), 'ok');
  assert.deepEqual(await mailpit.getTags(), ['Receipts', 'Second', 'orders']);
  assert.equal((await mailpit.searchMessages({ query: 'tag:receipts' })).messages_count, 2);
  assert.equal((await mailpit.searchMessages({ query: 'tag:second' })).messages_count, 1);
  assert.equal(await mailpit.renameTag('Second', 'Runner up'), 'ok');
  assert.deepEqual((await mailpit.getMessageSummary(plain.ID)).Tags, ['Receipts', 'Runner up']);
  assert.equal(await mailpit.deleteTag('Receipts'), 'ok');
  assert.deepEqual(await mailpit.getTags(), ['Runner up', 'orders']);
  await mailpit.setTags({ IDs: [plain.ID] });  // no Tags: removes them all
  assert.deepEqual(await mailpit.getTags(), ['orders']);

  // Read all, unread all (an empty request), as Mailpit's UI and cypress-mailpit do.
  assert.equal((await mailpit.listMessages()).unread, 0);  // getMessageSummary reads
  await mailpit.setReadStatus({});
  assert.equal((await mailpit.listMessages()).unread, 2);
  await mailpit.setReadStatus({ IDs: [], Read: true });
  assert.equal((await mailpit.listMessages()).unread, 0);

  // Delete all with an empty list, as Mailpit documents.
  await mailpit.deleteMessages({ IDs: [] });
  assert.equal((await mailpit.listMessages()).total, 0);
  await assert.rejects(mailpit.sendMessage({ To: [{ Email: 'x@y.example' }] }), /400|From/);
});

test('mailpit-api: chaos triggers get and set, and they change the SMTP replies', async () => {
  const defaults = await mailpit.getChaosTriggers();
  assert.deepEqual(defaults.Recipient, { ErrorCode: 451, Probability: 0 });

  const set = await mailpit.setChaosTriggers({ Recipient: { ErrorCode: 550, Probability: 100 } });
  assert.deepEqual(set.Recipient, { ErrorCode: 550, Probability: 100 });
  assert.deepEqual(set.Sender, { ErrorCode: 451, Probability: 0 });
  assert.deepEqual((await mailpit.getChaosTriggers()).Recipient, set.Recipient);

  // Over SMTP: every recipient is now refused with the trigger's code.
  await assert.rejects(send('chaos refused'), (err) => {
    assert.equal(err.responseCode, 550);
    assert.match(String(err.response), /Chaos: recipient rejected/);
    return true;
  });

  await mailpit.setChaosTriggers({ Sender: { ErrorCode: 421, Probability: 100 } });
  await assert.rejects(send('chaos sender'), (err) => {
    assert.equal(err.responseCode, 421);
    return true;
  });

  const reset = await mailpit.setChaosTriggers();
  assert.equal(reset.Sender.Probability, 0);
  assert.equal(reset.Recipient.Probability, 0);
  const ok = await send('after chaos');
  assert.equal(ok.accepted.length, 1);
  assert.equal((await mailpit.searchMessages({ query: 'subject:"after chaos"' })).messages_count, 1);
  await mailpit.deleteMessages();
});

test('mailhog client: messages, search, latest, delete one, delete all', async () => {
  await hog.deleteAll();
  await send('hog one', { to: ['dora@hog.example'], text: 'needle in the body', html: false });
  await send('hog two', { to: ['eve@hog.example'], html: false });

  const all = await hog.messages();
  assert.equal(all.total, 2);
  assert.equal(all.count, 2);
  const first = all.items.find((m) => m.subject === 'hog one');
  assert.ok(first, 'the MailHog shape decodes the Subject');
  assert.equal(first.Raw.From, 'alice@node.example');
  assert.deepEqual(first.Raw.To, ['dora@hog.example']);
  assert.equal(first.Raw.Helo, 'node.client.example');
  assert.match(first.text, /needle in the body/);
  assert.equal(first.attachments.length, 1);
  assert.equal(first.attachments[0].name, 'note.txt');

  const to = await hog.latestTo('eve@hog.example');
  assert.equal(to.subject, 'hog two');
  const from = await hog.search('alice@node.example', 'from');
  assert.equal(from.total, 2);
  const containing = await hog.latestContaining('needle');
  assert.equal(containing.subject, 'hog one');

  await hog.deleteMessage(first.ID);
  assert.equal((await hog.messages()).total, 1);
  await hog.deleteAll();
  assert.equal((await hog.messages()).total, 0);
});
