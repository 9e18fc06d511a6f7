// Show-password toggle and the strength meter of the new-password form.
// The score comes from the server (zxcvbn with the same context words as
// the check, 0 when the password would be refused); the server decides.
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
  var url = pw && pw.getAttribute("data-strength-url");
  var csrf = document.querySelector('input[name="csrf"]');
  if (!pw || !meter || !url || !csrf || !window.fetch) return;
  var timer = null;
  pw.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var body = new URLSearchParams({ csrf: csrf.value, password: pw.value });
      fetch(url, { method: "POST", body: body, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { score: 0 }; })
        .then(function (j) { meter.value = j.score; })
        .catch(function () {});
    }, 250);
  });
})();
