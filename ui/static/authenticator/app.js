// Latchkey Authenticator (web app): the pages around protocol.js. Device
// keys and TOTP keys are non-extractable CryptoKeys kept in IndexedDB.
"use strict";
(function () {
  var LK = window.LatchkeyAuthenticator;

  function $(id) { return document.getElementById(id); }
  function show(msg, bad) {
    var m = $("message");
    m.textContent = msg;
    m.className = bad ? "error" : "notice";
    m.hidden = !msg;
  }

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
  function startEnroll() {
    $("enroll").hidden = false;
    $("enroll-server").textContent = location.host;
    $("enroll-name").value = guessName();
    $("enroll-cancel").onclick = function () { history.replaceState(null, "", location.pathname); $("enroll").hidden = true; };
    $("enroll-go").onclick = function () {
      $("enroll-go").disabled = true;
      var name = $("enroll-name").value.trim().slice(0, 60);
      LK.enroll(location.href, name).then(function (dev) {
        var rec = Object.assign({}, dev);
        delete rec.code;
        return tx("devices", "readwrite", function (s) { return s.put(rec); }).then(function () { return dev; });
      }).then(function (dev) {
        history.replaceState(null, "", location.pathname);
        $("enroll").hidden = true;
        show("Pairing code: " + dev.code + ". Type it on the Security info page (where you scanned the QR code) to finish adding this device for " + dev.account + ".");
        renderDevices();
        poll();
      }).catch(function (e) {
        $("enroll-go").disabled = false;
        show(e.message || "Enrollment failed.", true);
      });
    };
  }
  function guessName() {
    var ua = navigator.userAgent;
    if (/Android/.test(ua)) return "Android phone";
    if (/iPhone|iPad/.test(ua)) return "iPhone";
    return "Web browser";
  }

  function renderDevices() {
    return all("devices").then(function (devs) {
      var list = $("devices-list");
      list.textContent = "";
      $("devices-empty").hidden = devs.length > 0;
      devs.forEach(function (d) {
        var li = document.createElement("li");
        li.textContent = d.account + " at " + d.issuer.replace(/^https?:\/\//, "") + (d.name ? " (" + d.name + ")" : "") +
          (refused[d.id] ? ": no longer accepted by the server, you can forget it" : "");
        var rm = document.createElement("button");
        rm.type = "button"; rm.className = "secondary"; rm.textContent = "Forget";
        rm.onclick = function () {
          if (!confirm("Forget this enrollment? Remove it on the Security info page too.")) return;
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
        refused[d.id] = e.message;
        renderDevices();
        if (!/^Pairing code/.test($("message").textContent)) {
          show("The server no longer accepts this device: " + e.message, true);
        }
        return;
      }
      setTimeout(function () { pollDevice(d); }, 5000);
    });
  }
  function paired(d) {
    d.paired = true;
    tx("devices", "readwrite", function (s) { return s.put(d); }).catch(function () { /* asked again next time */ });
    if (/^Pairing code/.test($("message").textContent)) {
      show("This device is paired: sign-in requests for " + d.account + " appear here.");
    }
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
    [["Account", d.account], ["App", req.app], ["Time", new Date(req.time).toLocaleString()],
      ["From", req.place || "Unknown place"]].forEach(function (row) {
      var dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = row[0]; dd.textContent = row[1];
      dl.appendChild(dt); dl.appendChild(dd);
    });
    box.appendChild(dl);
    var id = "num-" + req.id;
    var label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = "Type the number shown on the sign-in page";
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
    button("Approve", "", "approve");
    button("Deny", "secondary", "deny");
    button("Deny, and report it", "danger", "report");
    box.appendChild(actions);
    $("requests-list").prepend(box);
    input.focus();
    var left = new Date(req.expires).getTime() - Date.now();
    setTimeout(function () { if (box.isConnected) finish(box, "This request expired."); }, Math.max(left, 0));
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
    if (dec === "approve" && !/^[0-9]{2}$/.test(num)) { show("Type the two-digit number shown on the sign-in page.", true); return; }
    box.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    LK.decide(d, req.id, dec, num)
      .then(function (res) {
        show("");
        finish(box, {
          approved: "Approved. The sign-in page continues by itself.",
          wrong: "That was not the number on the sign-in page, so the request was refused. Start again if it was you.",
          denied: "Denied.",
          reported: "Denied and reported. Your administrator can see the report."
        }[res] || "Done.");
      })
      .catch(function (e) { finish(box, e.message || "That did not work."); });
  }

  // --- TOTP codes ---
  function addAccount() {
    var p;
    try {
      p = LK.importAccount(LK.parseAccount($("totp-uri").value, $("totp-name").value.trim()));
    } catch (e) { show(e.message, true); return; }
    p.then(function (acc) {
      return tx("totp", "readwrite", function (s) { return s.add(acc); });
    }).then(function () {
      $("totp-uri").value = ""; $("totp-name").value = "";
      show("Account added.");
      renderCodes();
    }).catch(function (e) { show(e.message || "This browser could not store the account.", true); });
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
          name.textContent = (a.issuer ? a.issuer + ": " : "") + a.account;
          var c = document.createElement("span");
          c.className = "code"; c.textContent = codes[i];
          var rem = document.createElement("span");
          rem.className = "remaining"; rem.textContent = (a.period - Math.floor(t) % a.period) + "s";
          var rm = document.createElement("button");
          rm.type = "button"; rm.className = "secondary"; rm.textContent = "Remove";
          rm.onclick = function () {
            if (confirm("Remove this account? You will not see its codes any more.")) {
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
      show("This browser cannot show notifications for the app; keep it open while you sign in.", true);
      return;
    }
    Notification.requestPermission().then(function (perm) {
      if (perm !== "granted") throw new Error("Notifications are not allowed for this app.");
      return Promise.all([navigator.serviceWorker.ready, all("devices")]);
    }).then(function (r) {
      var reg = r[0], devs = r[1];
      // One subscription per browser, registered with every enrollment;
      // all enrollments share this origin's server key.
      if (!devs.length) throw new Error("Add this device first.");
      return LK.vapidKey(devs[0].issuer).then(function (key) {
        return reg.pushManager.getSubscription().then(function (sub) {
          return sub || reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64uBytes(key) });
        });
      }).then(function (sub) {
        var json = sub.toJSON();
        return Promise.all(devs.map(function (d) { return LK.subscribe(d, { endpoint: json.endpoint, keys: json.keys }); }));
      });
    }).then(function () {
      show("Notifications are on: you will be told when a sign-in request is waiting.");
      $("notify").hidden = true;
    }).catch(function (e) { show(e.message || "Notifications could not be turned on.", true); });
  }

  // --- start ---
  if (!window.crypto || !crypto.subtle || !window.indexedDB) {
    show("This browser cannot keep keys safely (it needs https and WebCrypto).", true);
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
