// Admin console: the copy buttons beside a secret and each "How to
// connect" snippet. Without scripts the text stays selectable; with them a
// button copies it and the status line says so (read out by screen
// readers through role=status).
(function () {
  "use strict";
  if (!navigator.clipboard) { return; }
  var status = document.getElementById("copy-status");
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    var target = document.getElementById(b.getAttribute("data-copy"));
    if (!target) { return; }
    b.hidden = false;
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent).then(function () {
        if (status) { status.hidden = false; status.textContent = b.getAttribute("data-copied"); }
      }, function () {
        if (status) { status.hidden = true; status.textContent = ""; }
      });
    });
  });
})();
