// A test driver for the web app's protocol.js under Node: the Go test
// sends one JSON command per line on stdin and reads one JSON answer per
// line on stdout. The device key lives only in this process, as a
// non-extractable WebCrypto key, exactly as in the browser.
"use strict";
const LK = require(process.env.PROTOCOL_JS);
const readline = require("readline");

let device = null;
const ops = {
  enroll: (c) => LK.enroll(c.link, c.name).then((d) => {
    device = d;
    return { device: d.id, account: d.account, code: d.code, extractable: d.key.extractable };
  }),
  pending: (c) => LK.pending(device, c.wait).then((requests) => ({ requests })),
  decide: (c) => LK.decide(device, c.chal, c.dec, c.num).then((result) => ({ result })),
  replay: (c) => LK.signDecision(device, c.chal, "approve", c.num).then((signed) =>
    LK.post(device.issuer, "/decide", signed).then((first) =>
      LK.post(device.issuer, "/decide", signed).then(() => ({ first: first.result, second: 200 }),
        (e) => ({ first: first.result, second: e.status })))),
  subscribe: (c) => LK.subscribe(device, c.sub).then(() => ({ ok: true })),
  code: (c) => LK.importAccount(LK.parseAccount(c.uri)).then((acc) => LK.code(acc, c.t)).then((code) => ({ code })),
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const c = JSON.parse(line);
  Promise.resolve().then(() => ops[c.op](c))
    .then((out) => process.stdout.write(JSON.stringify(out) + "\n"))
    .catch((e) => process.stdout.write(JSON.stringify({ error: String(e.message || e), status: e.status || 0 }) + "\n"));
});
