// Service worker of the Latchkey Authenticator: keeps the app shell so the
// app opens (and shows TOTP codes) without a network. API calls are never
// cached: they always go to the server.
"use strict";
var CACHE = "latchkey-authenticator-v2";
var SHELL = ["./", "messages.json", "protocol.js", "app.js", "authenticator.css", "../latchkey.css", "manifest.json", "icon-192.png", "icon-512.png"];

self.addEventListener("install", function (e) {
  e.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(SHELL); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (e) {
  e.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

// The server's static files, wherever the issuer's path puts them
// (https://host/prefix/static/...): the app shell and its stylesheet.
var STATIC = new URL("../", self.registration.scope).pathname;

self.addEventListener("fetch", function (e) {
  var url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== location.origin || url.pathname.indexOf(STATIC) !== 0) {
    return; // the API and everything else: straight to the network
  }
  // Network first, so an update is picked up at once; the cache when offline.
  e.respondWith(fetch(e.request).then(function (r) {
    var copy = r.clone();
    if (r.ok) caches.open(CACHE).then(function (c) { c.put(e.request, copy); });
    return r;
  }).catch(function () {
    return caches.match(e.request, { ignoreSearch: true, ignoreVary: true });
  }));
});

// messages are the app's texts in the language the server picks for this
// browser (its language cookie and Accept-Language, as for the page):
// fresh from the network, else the last copy kept.
function messages() {
  var url = new URL("messages.json", self.registration.scope).href;
  return fetch(url, { cache: "no-cache" }).then(function (r) {
    if (!r.ok) throw new Error(String(r.status));
    var copy = r.clone();
    return caches.open(CACHE).then(function (c) { return c.put(url, copy); }).then(function () { return r.json(); });
  }).catch(function () {
    return caches.match(url, { ignoreVary: true }).then(function (r) { return r ? r.json() : {}; });
  }).catch(function () { return {}; }).then(function (t) { t.messages = t.messages || {}; return t; });
}
function fill(text, vars) {
  return String(text || "").replace(/\{\{\s*\.([A-Za-z0-9_]+)\s*\}\}/g, function (all, k) {
    return vars[k] !== undefined ? String(vars[k]) : all;
  });
}

// Web Push: the server wakes this app when a sign-in request is waiting.
// The message names the app only; the number is on the sign-in page.
self.addEventListener("push", function (e) {
  var data = {};
  try { data = e.data ? e.data.json() : {}; } catch (err) { data = {}; }
  e.waitUntil(messages().then(function (t) {
    var m = t.messages;
    var app = data.app || m["method.push.name"] || "Latchkey";
    return self.registration.showNotification(m["authenticator.notify.title"] || app, {
      body: fill(m["authenticator.notify.body"], { App: app }),
      tag: data.id || "latchkey-signin",
      icon: "icon-192.png",
      requireInteraction: true,
      lang: t.lang || "",
      dir: t.dir || "auto"
    });
  }));
});

self.addEventListener("notificationclick", function (e) {
  e.notification.close();
  e.waitUntil(self.clients.matchAll({ type: "window" }).then(function (list) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].url.indexOf(self.registration.scope) === 0 && "focus" in list[i]) return list[i].focus();
    }
    return self.clients.openWindow("./");
  }));
});
