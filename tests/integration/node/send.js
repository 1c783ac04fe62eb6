#!/usr/bin/env node
// Sends one message with nodemailer, for smtpmock's integration tests.
//
//   node send.js '{"host":"127.0.0.1","port":2525,"from":"a@x","to":["b@x"],"subject":"s",
//                  "text":"hi","auth":{"user":"u","pass":"p"},"authMethod":"LOGIN",
//                  "name":"client.example","raw":"<whole RFC 5322 message>"}'
//
// `raw` (optional) replaces subject/text with exact message text; `rawFile` (optional) names a
// file whose bytes are the message (for messages too big for a command-line argument).
// TLS (all optional): "secure":true for implicit TLS (port 465 style); "requireTLS":true to
// insist on STARTTLS (fail when it is not offered or fails); "tls":{...} passed to tls.connect,
// e.g. {"rejectUnauthorized":false}. Without secure/requireTLS, STARTTLS is ignored.
// Prints one JSON object on stdout: {"ok":true, accepted, rejected, response, envelope, log}
// and exits 0, or {"ok":false, code, responseCode, command, response, message, log} and exits 1.
// `log` is the SMTP dialogue as nodemailer saw it ("C: ..." sent, "S: ..." received).
'use strict';

const fs = require('node:fs');
const nodemailer = require('nodemailer');

function fail(obj) {
  process.stdout.write(JSON.stringify({ ok: false, ...obj }) + '\n');
  process.exit(1);
}

let args;
try {
  args = JSON.parse(process.argv[2] || '');
} catch (err) {
  fail({ code: 'EARGS', message: 'usage: node send.js JSON (' + err.message + ')' });
}

// nodemailer logs SMTP traffic through a bunyan-style logger when debug is on.
const log = [];
const record = (level) => (entry, message, ...rest) => {
  if (log.length >= 1000) return;
  const tnx = entry && typeof entry === 'object' ? entry.tnx : undefined;
  const text = [message, ...rest].filter((p) => typeof p === 'string').join(' ');
  const prefix = tnx === 'client' ? 'C' : tnx === 'server' ? 'S' : level === 'error' ? 'E' : null;
  if (prefix === null) return;
  for (const line of text.split(/\r?\n/)) {
    if (line.length > 0) log.push(prefix + ': ' + line.slice(0, 200));
  }
};
const logger = {
  level: () => {},
  trace: record('trace'),
  debug: record('debug'),
  info: record('info'),
  warn: record('warn'),
  error: record('error'),
  fatal: record('fatal'),
};

const options = {
  host: args.host,
  port: args.port,
  secure: args.secure === true,
  ignoreTLS: !(args.secure === true || args.requireTLS === true),
  requireTLS: args.requireTLS === true,
  name: args.name || 'client.example',
  connectionTimeout: 10000,
  greetingTimeout: 10000,
  socketTimeout: 20000,
  logger,
  debug: true,
};
if (args.tls) options.tls = args.tls;
if (args.auth) {
  options.auth = { user: args.auth.user, pass: args.auth.pass };
  if (args.authMethod) options.authMethod = args.authMethod;
}

const transport = nodemailer.createTransport(options);
const message = {
  envelope: { from: args.from, to: args.to },
};
if (args.rawFile !== undefined) {
  message.raw = fs.readFileSync(args.rawFile);
} else if (args.raw !== undefined) {
  message.raw = args.raw;
} else {
  message.from = args.from;
  message.to = args.to;
  message.subject = args.subject || '';
  message.text = args.text || '';
}

const watchdog = setTimeout(() => fail({ code: 'ETIMEDOUT', message: 'send.js watchdog', log }), 25000);

transport.sendMail(message).then(
  (info) => {
    clearTimeout(watchdog);
    process.stdout.write(
      JSON.stringify({
        ok: true,
        accepted: info.accepted,
        rejected: info.rejected,
        response: info.response,
        envelope: info.envelope,
        messageId: info.messageId,
        log,
      }) + '\n',
    );
    transport.close();
    process.exit(0);
  },
  (err) => {
    clearTimeout(watchdog);
    fail({
      code: err.code || null,
      responseCode: err.responseCode || null,
      command: err.command || null,
      response: err.response || null,
      message: err.message,
      log,
    });
  },
);
