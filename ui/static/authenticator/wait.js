// The sign-in/recovery page while a push is out: poll the push's status and
// submit the page's form as soon as the user answered on the device (or
// the push expired), so the page moves on by itself. Without JavaScript
// the form's own button ("I approved it, continue") does the same.
//
// It submits at most once per push: when the answer was a refusal the
// server shows this page again with its message, and submitting again
// would count the same refusal over and over until recovery is paused.
//
// Markup: <form method="post" data-push-poll="STATUS URL"> ... </form>
"use strict";
(function () {
  var form = document.querySelector("form[data-push-poll]");
  if (!form || !window.fetch) return;
  var url = form.getAttribute("data-push-poll");
  var key = "latchkey-push-submitted " + url;
  function submitted() {
    try { return sessionStorage.getItem(key) === "1"; } catch (e) { return false; }
  }
  if (submitted()) return;
  var stopAt = Date.now() + 11 * 60 * 1000; // pushes live at most 10 minutes
  function tick() {
    if (Date.now() > stopAt) return;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "omit", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : { status: "pending" }; })
      .then(function (s) {
        if (s.status === "pending") { setTimeout(tick, 2000); return; }
        try { sessionStorage.setItem(key, "1"); } catch (e) { /* at worst one more submit */ }
        form.submit();
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  setTimeout(tick, 2000);
})();
