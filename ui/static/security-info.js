// Security info: the "Copy key" button beside an authenticator key. The
// key stays readable and selectable without it; the button copies the
// key without the spaces that group it.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    if (!navigator.clipboard) { return; }
    b.hidden = false;
    b.addEventListener("click", function () {
      var status = document.getElementById("copy-status");
      navigator.clipboard.writeText(b.getAttribute("data-copy")).then(function () {
        if (status) { status.textContent = b.getAttribute("data-copied"); }
      }, function () {
        if (status) { status.textContent = ""; }
      });
    });
  });
})();
