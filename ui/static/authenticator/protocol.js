// Latchkey Authenticator protocol, shared by the web app (app.js) and the
// tests, which run it under Node against a real server.
//
// Each enrollment holds a P-256 key made with WebCrypto as non-extractable:
// the browser can sign with it, but no script (ours included) can read it.
// Every call to the server is a compact JWS (ES256) signed with that key:
//   enroll:   header {alg, jwk}  payload {typ:"latchkey-enroll", aud, token, name, iat}
//   token:    header {alg, kid}  payload {typ:"latchkey-device", aud, sub, iat, exp, jti} (one per request)
//   decision: header {alg, kid}  payload {typ:"latchkey-decision", aud, sub, chal, dec, num, iat}
// The signature covers the exact bytes sent, so the payload is canonical.
//
// Errors carry no text for people: an error of this script has the ID of
// its message in ui/locales/authenticator.* (id, also its message), one
// of the server has its HTTP status and OAuth-style error code (status,
// code); the app says them in its language.
"use strict";
(function (root) {
  var API = "/authenticator/api";
  var enc = new TextEncoder();
  var subtle = root.crypto.subtle;

  function b64u(bytes) {
    var s = "", b = new Uint8Array(bytes);
    for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function b64uJSON(o) { return b64u(enc.encode(JSON.stringify(o))); }
  function jws(key, header, payload) {
    header.alg = "ES256";
    var input = b64uJSON(header) + "." + b64uJSON(payload);
    // WebCrypto's ECDSA signature is r||s, which is exactly JWS ES256.
    return subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, enc.encode(input))
      .then(function (sig) { return input + "." + b64u(sig); });
  }
  function failure(id) { var e = new Error(id); e.id = id; return e; }
  function offline() { throw failure("authenticator.error.offline"); }
  function now() { return Math.floor(Date.now() / 1000); }
  function nonce() { var b = new Uint8Array(16); root.crypto.getRandomValues(b); return b64u(b); }

  // issuerOf returns the server of an enrollment link or of the app's own
  // address (both under /static/authenticator/).
  function issuerOf(href) {
    var u = new URL(href);
    return u.origin + u.pathname.replace(/\/static\/authenticator\/.*$/, "");
  }
  function tokenOf(href) {
    var m = /(?:^#|&)enroll=([A-Za-z0-9]+)/.exec(new URL(href).hash);
    return m ? m[1] : "";
  }

  function call(issuer, path, opts) {
    opts = opts || {};
    opts.headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    opts.credentials = "omit";
    opts.cache = "no-store";
    return fetch(issuer + API + path, opts).catch(offline).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) {
          // error_description is for developers: the log, the Node tests.
          var e = new Error(body.error_description || String(r.status));
          e.status = r.status;
          e.code = body.error || "";
          throw e;
        }
        return body;
      });
    });
  }
  function post(issuer, path, signed) {
    return call(issuer, path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ signed: signed }) });
  }

  // enroll makes a non-extractable key and registers its public half with
  // the link; it resolves to the device record to keep.
  function enroll(link, name) {
    var issuer = issuerOf(link), token = tokenOf(link), pair;
    if (!token) return Promise.reject(failure("authenticator.error.not_link"));
    return subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]).then(function (p) {
      pair = p;
      return subtle.exportKey("jwk", p.publicKey);
    }).then(function (jwk) {
      var pub = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
      return jws(pair.privateKey, { jwk: pub }, { typ: "latchkey-enroll", aud: issuer, token: token, name: name, iat: now() });
    }).then(function (signed) {
      return post(issuer, "/enroll", signed);
    }).then(function (res) {
      if (res.issuer !== issuer || !res.code) throw failure("authenticator.error.unexpected");
      // code: the pairing code the user types on the registration page.
      return { id: res.device, issuer: issuer, account: res.account, name: name, key: pair.privateKey, created: Date.now(), code: res.code };
    });
  }

  function deviceToken(d) {
    var t = now();
    return jws(d.key, { kid: d.id }, { typ: "latchkey-device", aud: d.issuer, sub: d.id, iat: t, exp: t + 60, jti: nonce() });
  }

  // pending long-polls for the device's requests (wait seconds).
  function pending(d, wait) {
    return deviceToken(d).then(function (tok) {
      return call(d.issuer, "/pending?wait=" + wait, { headers: { Authorization: "Bearer " + tok } });
    }).then(function (body) { return body.requests || []; });
  }

  // subscribe registers the browser's Web Push subscription for device d.
  function subscribe(d, sub) {
    return deviceToken(d).then(function (tok) {
      return fetch(d.issuer + API + "/subscribe", { method: "POST", credentials: "omit", cache: "no-store",
        headers: { Accept: "application/json", "Content-Type": "application/json", Authorization: "Bearer " + tok },
        body: JSON.stringify(sub) }).catch(offline);
    }).then(function (r) { if (!r.ok) throw failure("authenticator.error.subscription"); });
  }
  function vapidKey(issuer) {
    return call(issuer, "/vapid").then(function (b) { return b.key; });
  }

  function signDecision(d, chal, dec, num) {
    return jws(d.key, { kid: d.id }, { typ: "latchkey-decision", aud: d.issuer, sub: d.id, chal: chal, dec: dec,
      num: dec === "approve" ? String(num).trim() : "", iat: now() });
  }
  // decide resolves to "approved", "wrong", "denied" or "reported".
  function decide(d, chal, dec, num) {
    return signDecision(d, chal, dec, num).then(function (signed) { return post(d.issuer, "/decide", signed); })
      .then(function (res) { return res.result; });
  }

  // --- TOTP (RFC 6238) ---
  function b32decode(s) {
    s = s.toUpperCase().replace(/[\s=-]/g, "");
    var alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", bits = 0, val = 0, out = [];
    for (var i = 0; i < s.length; i++) {
      var v = alpha.indexOf(s[i]);
      if (v < 0) throw failure("authenticator.codes.not_base32");
      val = ((val << 5) | v) & 0xffff; bits += 5;
      if (bits >= 8) { out.push((val >>> (bits - 8)) & 255); bits -= 8; }
    }
    return new Uint8Array(out);
  }
  function parseAccount(text, name) {
    text = text.trim();
    var a = { issuer: "", account: name || "", digits: 6, period: 30, algorithm: "SHA-1", secret: text };
    if (/^otpauth:/i.test(text)) {
      var u;
      try { u = new URL(text); } catch (e) { throw failure("authenticator.codes.unsupported"); }
      if (u.host.toLowerCase() !== "totp") throw failure("authenticator.codes.totp_only");
      var label = decodeURIComponent(u.pathname.replace(/^\//, ""));
      var parts = label.split(":");
      a.account = parts.length > 1 ? parts.slice(1).join(":").trim() : label;
      a.issuer = u.searchParams.get("issuer") || (parts.length > 1 ? parts[0] : "");
      a.secret = u.searchParams.get("secret") || "";
      a.digits = parseInt(u.searchParams.get("digits") || "6", 10);
      a.period = parseInt(u.searchParams.get("period") || "30", 10);
      a.algorithm = { SHA1: "SHA-1", SHA256: "SHA-256", SHA512: "SHA-512" }[(u.searchParams.get("algorithm") || "SHA1").toUpperCase()];
    }
    if (!a.algorithm || [6, 7, 8].indexOf(a.digits) < 0 || !(a.period > 0 && a.period <= 300)) throw failure("authenticator.codes.unsupported");
    return a;
  }
  // importAccount turns a parsed account into one with a non-extractable
  // HMAC key instead of the secret.
  function importAccount(a) {
    var raw = b32decode(a.secret);
    if (raw.length < 10) return Promise.reject(failure("authenticator.codes.too_short"));
    return subtle.importKey("raw", raw, { name: "HMAC", hash: a.algorithm }, false, ["sign"]).then(function (key) {
      return { issuer: a.issuer, account: a.account, digits: a.digits, period: a.period, key: key };
    });
  }
  function code(acc, t) {
    var ctr = Math.floor(t / acc.period), msg = new Uint8Array(8);
    for (var i = 7; i >= 0; i--) { msg[i] = ctr & 255; ctr = Math.floor(ctr / 256); }
    return subtle.sign("HMAC", acc.key, msg).then(function (mac) {
      var h = new Uint8Array(mac), o = h[h.length - 1] & 15;
      var bin = ((h[o] & 127) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
      var s = String(bin % Math.pow(10, acc.digits));
      while (s.length < acc.digits) s = "0" + s;
      return s;
    });
  }

  var api = { issuerOf: issuerOf, tokenOf: tokenOf, enroll: enroll, pending: pending, signDecision: signDecision,
    subscribe: subscribe, vapidKey: vapidKey, failure: failure,
    decide: decide, post: post, parseAccount: parseAccount, importAccount: importAccount, code: code, b32decode: b32decode };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.LatchkeyAuthenticator = api;
})(typeof self !== "undefined" ? self : globalThis);
