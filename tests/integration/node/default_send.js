#!/usr/bin/env node
// Sends one plain text message with nodemailer in its default mode, for
// tests/integration/test_findings_clients.py: createTransport({host, port}) and nothing else
// (no name, no ignoreTLS, no tls options, no logger), so nodemailer picks its own EHLO name,
// upgrades with STARTTLS when it is offered and verifies the certificate, as a user's code would.
//
//   node default_send.js '{"host":"127.0.0.1","port":2525,"from":"a@x","to":"b@x",
//                          "subject":"s","text":"hi"}'
//
// Prints one JSON object on stdout and exits 0: {"ok":true, accepted, rejected, response}, or
// exits 1: {"ok":false, code, responseCode, command, message}. A watchdog ends a hung send.
'use strict';

const nodemailer = require('nodemailer');

function fail(obj) {
  process.stdout.write(JSON.stringify({ ok: false, ...obj }) + '\n');
  process.exit(1);
}

let args;
try {
  args = JSON.parse(process.argv[2] || '');
} catch (err) {
  fail({ code: 'EARGS', message: 'usage: node default_send.js JSON (' + err.message + ')' });
}

const watchdog = setTimeout(() => fail({ code: 'ETIMEDOUT', message: 'watchdog' }), 25000);

const transport = nodemailer.createTransport({ host: args.host, port: args.port });
transport
  .sendMail({ from: args.from, to: args.to, subject: args.subject, text: args.text })
  .then(
    (info) => {
      clearTimeout(watchdog);
      process.stdout.write(
        JSON.stringify({
          ok: true,
          accepted: info.accepted,
          rejected: info.rejected,
          response: info.response,
        }) + '\n',
      );
      // No process.exit: node ends once nodemailer has closed its connection its own way.
      transport.close();
    },
    (err) => {
      clearTimeout(watchdog);
      fail({
        code: err.code || null,
        responseCode: err.responseCode || null,
        command: err.command || null,
        message: err.message,
      });
    },
  );
