// Latchkey Authenticator (web app): the pages around protocol.js. Device
// keys and TOTP keys are non-extractable CryptoKeys kept in IndexedDB.
// Every text comes from the page's messages (ui/locales/authenticator.*),
// in the language the server chose for the page.
"use strict";
(function () {
  var LK = window.LatchkeyAuthenticator;

  function $(id) { return document.getElementById(id); }

  // --- messages: id -> text, placeholders written {{.Name}} ---
  var MESSAGES = {};
  try { MESSAGES = JSON.parse($("messages").textContent).messages || {}; } catch (e) { /* ids show instead */ }
  var LANG = document.documentElement.lang || undefined;
  var PLACEHOLDER = /\{\{\s*\.([A-Za-z0-9_]+)\s*\}\}/g;
  // T returns message id with vars filled in (as text, never as markup).
  function T(id, vars) {
    return (MESSAGES[id] || id).replace(PLACEHOLDER, function (all, k) {
      return vars && vars[k] !== undefined ? String(vars[k]) : all;
    });
  }
  // fill puts message id into el, with vars that may be elements.
  function fill(el, id, vars) {
    var text = MESSAGES[id] || id, last = 0, m;
    el.textContent = "";
    PLACEHOLDER.lastIndex = 0;
    while ((m = PLACEHOLDER.exec(text)) !== null) {
      el.appendChild(document.createTextNode(text.slice(last, m.index)));
      var v = vars[m[1]];
      el.appendChild(v instanceof Node ? v : document.createTextNode(v === undefined ? m[0] : String(v)));
      last = PLACEHOLDER.lastIndex;
    }
    el.appendChild(document.createTextNode(text.slice(last)));
  }
  // problem says what went wrong, in the page's language: the scripts'
  // own errors carry a message id, the server's a status and an error code.
  function problem(e, fallback) {
    if (e && e.id) return T(e.id);
    if (e && e.status) return T("authenticator.error.status", { Status: e.status });
    return T(fallback);
  }
  function show(msg, bad) {
    var m = $("message");
    m.textContent = msg;
    m.className = bad ? "error" : "notice";
    m.hidden = !msg;
    pairing = false;
  }
  // pairing: the message shows a pairing code still to be typed.
  var pairing = false;

  // --- IndexedDB ---
  var dbp = new Promise(function (resolve, reject) {
    var r = indexedDB.open("latchkey-authenticator", 1);
    r.onupgradeneeded = function () {
      r.result.createObjectStore("devices", { keyPath: "id" });
      r.result.createObjectStore("totp", { keyPath: "id", autoIncrement: true });
    };
    r.onsuccess = function () { resolve(r.result); };
    r.onerror = function () { reject(r.error); };
  });
  function tx(store, mode, fn) {
    return dbp.then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(store, mode), s = t.objectStore(store), out;
        var req = fn(s);
        if (req) req.onsuccess = function () { out = req.result; };
        t.oncomplete = function () { resolve(out); };
        t.onerror = function () { reject(t.error); };
      });
    });
  }
  function all(store) { return tx(store, "readonly", function (s) { return s.getAll(); }); }

  // --- enrollment (the QR code opens this page with #enroll=TOKEN) ---
  // The language picker's links keep the enrollment link's token, which is
  // in the fragment and never reaches the server, until it is used.
  function pickerKeeps(hash) {
    document.querySelectorAll("nav.languages a").forEach(function (a) { a.hash = hash; });
  }
  function endEnroll() {
    history.replaceState(null, "", location.pathname);
    pickerKeeps("");
    $("enroll").hidden = true;
  }
  function startEnroll() {
    $("enroll").hidden = false;
    pickerKeeps(location.hash);
    var server = document.createElement("strong");
    server.id = "enroll-server";
    server.textContent = location.host;
    fill($("enroll-intro"), "authenticator.enroll.intro", { Server: server });
    $("enroll-name").value = guessName();
    $("enroll-cancel").onclick = endEnroll;
    $("enroll-go").onclick = function () {
      $("enroll-go").disabled = true;
      var name = $("enroll-name").value.trim().slice(0, 60);
      LK.enroll(location.href, name).then(function (dev) {
        var rec = Object.assign({}, dev);
        delete rec.code;
        return tx("devices", "readwrite", function (s) { return s.put(rec); }).then(function () { return dev; });
      }).then(function (dev) {
        endEnroll();
        show(T("authenticator.enroll.pairing", { Code: dev.code, Account: dev.account }));
        pairing = true;
        renderDevices();
        poll();
      }).catch(function (e) {
        $("enroll-go").disabled = false;
        show(e && e.status === 410 ? T("authenticator.error.link_used") : problem(e, "authenticator.enroll.failed"), true);
      });
    };
  }
  function guessName() {
    var ua = navigator.userAgent;
    if (/Android/.test(ua)) return T("authenticator.enroll.name_android");
    if (/iPhone|iPad/.test(ua)) return "iPhone"; // a name, the same in every language
    return T("authenticator.enroll.name_browser");
  }

  function renderDevices() {
    return all("devices").then(function (devs) {
      var list = $("devices-list");
      list.textContent = "";
      $("devices-empty").hidden = devs.length > 0;
      devs.forEach(function (d) {
        var li = document.createElement("li");
        var what = T(d.name ? "authenticator.devices.item_named" : "authenticator.devices.item",
          { Account: d.account, Server: d.issuer.replace(/^https?:\/\//, ""), Name: d.name });
        li.textContent = refused[d.id] ? T("authenticator.devices.refused", { Device: what }) : what;
        var rm = document.createElement("button");
        rm.type = "button"; rm.className = "secondary"; rm.textContent = T("authenticator.devices.forget");
        rm.onclick = function () {
          if (!confirm(T("authenticator.devices.forget_confirm"))) return;
          tx("devices", "readwrite", function (s) { return s.delete(d.id); }).then(renderDevices);
        };
        li.appendChild(rm);
        list.appendChild(li);
      });
      return devs;
    });
  }

  // --- pending requests: a long-poll per device, a fresh token each time ---
  var polling = {};
  var shown = {};
  var refused = {}; // device id -> the server's refusal
  // The server knows a new device only once its pairing code was typed on
  // the Security info page; until then it answers 401, so a new device
  // keeps asking (as long as a pairing code can be typed) instead of
  // giving up and hiding the pairing code behind an error.
  var PAIRING_MS = 15 * 60 * 1000;
  function pollDevice(d) {
    if (polling[d.id]) return;
    polling[d.id] = true;
    // Unpaired, ask without waiting, so "paired" shows as soon as it is.
    LK.pending(d, d.paired ? 25 : 0).then(function (reqs) {
      if (!d.paired) paired(d);
      reqs.forEach(function (req) { showRequest(d, req); });
      polling[d.id] = false;
      pollDevice(d);
    }).catch(function (e) {
      polling[d.id] = false;
      if (e.status === 401) {
        if (!d.paired && Date.now() - d.created < PAIRING_MS) {
          setTimeout(function () { pollDevice(d); }, 3000);
          return;
        }
        // A device deleted on Security info (or replaced by a new pairing
        // on this browser): its row says so, and the refusal never hides
        // a pairing code still to be typed.
        refused[d.id] = true;
        renderDevices();
        if (!pairing) show(T("authenticator.error.refused_device"), true);
        return;
      }
      setTimeout(function () { pollDevice(d); }, 5000);
    });
  }
  function paired(d) {
    d.paired = true;
    tx("devices", "readwrite", function (s) { return s.put(d); }).catch(function () { /* asked again next time */ });
    if (pairing) show(T("authenticator.enroll.paired", { Account: d.account }));
  }
  function poll() {
    if (document.hidden) return;
    all("devices").then(function (devs) { devs.forEach(pollDevice); });
  }

  function showRequest(d, req) {
    if (shown[req.id]) return;
    shown[req.id] = true;
    $("requests-empty").hidden = true;
    var box = document.createElement("div");
    box.className = "request";
    var dl = document.createElement("dl");
    var place = req.place_id === "internal" ? T("authenticator.request.place_internal") :
      req.place || T("authenticator.request.place_unknown");
    [[T("authenticator.request.account"), d.account], [T("authenticator.request.app"), req.app],
      [T("authenticator.request.time"), new Date(req.time).toLocaleString(LANG)],
      [T("authenticator.request.from"), place]].forEach(function (row) {
      var dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = row[0]; dd.textContent = row[1];
      dl.appendChild(dt); dl.appendChild(dd);
    });
    box.appendChild(dl);
    var id = "num-" + req.id;
    var label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = T("authenticator.request.number");
    var input = document.createElement("input");
    input.type = "text"; input.id = id; input.inputMode = "numeric"; input.maxLength = 2; input.autocomplete = "off";
    box.appendChild(label); box.appendChild(input);
    var actions = document.createElement("div");
    actions.className = "actions";
    function button(text, cls, dec) {
      var b = document.createElement("button");
      b.type = "button"; b.textContent = text; if (cls) b.className = cls;
      b.onclick = function () { decide(d, req, dec, input.value.trim(), box); };
      actions.appendChild(b);
    }
    button(T("authenticator.request.approve"), "", "approve");
    button(T("authenticator.request.deny"), "secondary", "deny");
    button(T("authenticator.request.report"), "danger", "report");
    box.appendChild(actions);
    $("requests-list").prepend(box);
    input.focus();
    var left = new Date(req.expires).getTime() - Date.now();
    setTimeout(function () { if (box.isConnected) finish(box, T("authenticator.request.expired")); }, Math.max(left, 0));
    if (navigator.vibrate) navigator.vibrate(200);
  }
  function finish(box, text) {
    box.textContent = "";
    var p = document.createElement("p");
    p.textContent = text;
    box.appendChild(p);
    setTimeout(function () { box.remove(); if (!$("requests-list").children.length) $("requests-empty").hidden = false; }, 8000);
  }
  function decide(d, req, dec, num, box) {
    if (dec === "approve" && !/^[0-9]{2}$/.test(num)) { show(T("authenticator.request.need_number"), true); return; }
    box.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    LK.decide(d, req.id, dec, num)
      .then(function (res) {
        show("");
        finish(box, T({
          approved: "authenticator.request.approved",
          wrong: "authenticator.request.wrong",
          denied: "authenticator.request.denied",
          reported: "authenticator.request.reported"
        }[res] || "authenticator.request.done"));
      })
      .catch(function (e) {
        finish(box, T({
          400: "authenticator.request.clock",
          401: "authenticator.error.refused_device",
          404: "authenticator.request.gone",
          409: "authenticator.request.answered",
          410: "authenticator.request.expired"
        }[e && e.status] || "") || problem(e, "authenticator.error.failed"));
      });
  }

  // --- TOTP codes ---
  function addAccount() {
    var p;
    try {
      p = LK.importAccount(LK.parseAccount($("totp-uri").value, $("totp-name").value.trim() || T("authenticator.codes.default_name")));
    } catch (e) { show(problem(e, "authenticator.codes.unsupported"), true); return; }
    p.then(function (acc) {
      return tx("totp", "readwrite", function (s) { return s.add(acc); });
    }).then(function () {
      $("totp-uri").value = ""; $("totp-name").value = "";
      show(T("authenticator.codes.added"));
      renderCodes();
    }).catch(function (e) { show(problem(e, "authenticator.codes.not_stored"), true); });
  }
  function renderCodes() {
    all("totp").then(function (accs) {
      var list = $("codes-list");
      $("codes-empty").hidden = accs.length > 0;
      var t = Date.now() / 1000;
      return Promise.all(accs.map(function (a) { return LK.code(a, t); })).then(function (codes) {
        list.textContent = "";
        accs.forEach(function (a, i) {
          var li = document.createElement("li");
          var name = document.createElement("span");
          name.textContent = a.issuer ? T("authenticator.codes.item", { Issuer: a.issuer, Account: a.account }) : a.account;
          var c = document.createElement("span");
          c.className = "code"; c.textContent = codes[i];
          var rem = document.createElement("span");
          rem.className = "remaining"; rem.textContent = T("authenticator.codes.remaining", { Seconds: a.period - Math.floor(t) % a.period });
          var rm = document.createElement("button");
          rm.type = "button"; rm.className = "secondary"; rm.textContent = T("authenticator.codes.remove");
          rm.onclick = function () {
            if (confirm(T("authenticator.codes.remove_confirm"))) {
              tx("totp", "readwrite", function (s) { return s.delete(a.id); }).then(renderCodes);
            }
          };
          li.appendChild(name); li.appendChild(c); li.appendChild(rem); li.appendChild(rm);
          list.appendChild(li);
        });
      });
    });
  }

  // --- Web Push: wake the app when it is closed (where the browser can) ---
  function b64uBytes(s) {
    var b = atob(s.replace(/-/g, "+").replace(/_/g, "/")), out = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
    return out;
  }
  function enableNotifications() {
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !window.Notification) {
      show(T("authenticator.notify.unsupported"), true);
      return;
    }
    Notification.requestPermission().then(function (perm) {
      if (perm !== "granted") throw LK.failure("authenticator.notify.denied");
      return Promise.all([navigator.serviceWorker.ready, all("devices")]);
    }).then(function (r) {
      var reg = r[0], devs = r[1];
      // One subscription per browser, registered with every enrollment;
      // all enrollments share this origin's server key.
      if (!devs.length) throw LK.failure("authenticator.notify.no_device");
      return LK.vapidKey(devs[0].issuer).then(function (key) {
        return reg.pushManager.getSubscription().then(function (sub) {
          return sub || reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64uBytes(key) });
        });
      }).then(function (sub) {
        var json = sub.toJSON();
        return Promise.all(devs.map(function (d) { return LK.subscribe(d, { endpoint: json.endpoint, keys: json.keys }); }));
      });
    }).then(function () {
      show(T("authenticator.notify.on"));
      $("notify").hidden = true;
    }).catch(function (e) { show(problem(e, "authenticator.notify.failed"), true); });
  }

  // --- start ---
  if (!window.crypto || !crypto.subtle || !window.indexedDB) {
    show(T("authenticator.app.no_crypto"), true);
    return;
  }
  if (LK.tokenOf(location.href)) startEnroll();
  $("totp-add").onclick = addAccount;
  $("notify").onclick = enableNotifications;
  $("notify").hidden = !("PushManager" in window);
  renderDevices();
  renderCodes();
  setInterval(renderCodes, 1000);
  poll();
  document.addEventListener("visibilitychange", poll);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js").catch(function () { /* works without offline support */ });
  }
})();
