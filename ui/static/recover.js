// Show-password toggle and the strength meter of the new-password form.
// The verdict comes from the server (the same policy and context words as
// the check; score 0 and ok false when the password would be refused);
// the server decides. Without JavaScript the meter stays hidden and the
// server's message is the only word.
(function () {
  var show = document.getElementById("show-password");
  if (show) {
    show.addEventListener("change", function () {
      show.getAttribute("data-show").split(" ").forEach(function (id) {
        var el = document.getElementById(id);
        if (el) el.type = show.checked ? "text" : "password";
      });
    });
  }
  var pw = document.getElementById("password");
  var meter = pw && document.getElementById(pw.getAttribute("data-strength"));
  var words = pw && document.getElementById(pw.getAttribute("data-strength-words"));
  var url = pw && pw.getAttribute("data-strength-url");
  var csrf = document.querySelector('input[name="csrf"]');
  if (!pw || !meter || !words || !url || !csrf || !window.fetch) return;
  var box = document.getElementById("strength-box");
  if (box) box.hidden = false;

  // An error from the last submit no longer applies once the password
  // typed now is accepted: it goes, with its ties to the fields.
  function dropStaleError() {
    var err = document.getElementById(pw.getAttribute("data-error"));
    if (!err) return;
    err.parentNode.removeChild(err);
    ["password", "confirm"].forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) return;
      el.removeAttribute("aria-invalid");
      var d = (el.getAttribute("aria-describedby") || "").split(" ").filter(function (x) {
        return x && x !== "password-error";
      });
      if (d.length) el.setAttribute("aria-describedby", d.join(" "));
      else el.removeAttribute("aria-describedby");
    });
  }

  // The words come translated in the field's data-word-* attributes (the
  // page's catalogs); the script has none of its own.
  function word(name) { return pw.getAttribute("data-word-" + name) || ""; }

  function say(j) {
    meter.value = j.score;
    if (!pw.value) { words.textContent = ""; return; }
    if (!j.ok) {
      words.textContent = word("weak") + " " + (j.reason || word("refused"));
    } else if (j.score >= 3) {
      words.textContent = word("strong");
    } else {
      words.textContent = word("fair");
    }
    if (j.ok) dropStaleError();
  }

  var timer = null, seq = 0;
  pw.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var mine = ++seq;
      var body = new URLSearchParams({ csrf: csrf.value, password: pw.value });
      fetch(url, { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { score: 0, ok: false }; })
        .then(function (j) { if (mine === seq) say(j); })
        .catch(function () {});
    }, 250);
  });
})();
