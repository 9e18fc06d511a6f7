// The add-questions form: a select shows only as much of a long question
// as fits its width, so the chosen question's full text is shown under
// it, wrapped. Without JavaScript the open list shows every question in
// full.
(function () {
  var selects = document.querySelectorAll("select[data-full-text]");
  Array.prototype.forEach.call(selects, function (sel) {
    var out = document.getElementById(sel.getAttribute("data-full-text"));
    if (!out) return;
    function show() {
      var opt = sel.options[sel.selectedIndex];
      out.textContent = opt ? opt.text : "";
    }
    show();
    out.hidden = false;
    sel.addEventListener("change", show);
  });
})();
