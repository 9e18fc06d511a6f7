// Show-password toggle and a strength meter for the new-password form.
// The server checks the password; this only helps the person choose.
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
  if (pw && meter) {
    pw.addEventListener("input", function () {
      var v = pw.value, score = 0;
      if (v.length >= 8) score++;
      if (v.length >= 12) score++;
      if (v.length >= 16) score++;
      if (/[^a-zA-Z]/.test(v) && /[a-z]/i.test(v) && v.length >= 10) score++;
      meter.value = Math.min(score, 4);
    });
  }
})();
