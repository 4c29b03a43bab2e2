// vbench view: small progressive enhancements; the pages work without it.
(function () {
  "use strict";
  function ready(fn) { if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn); }
  ready(function () {
    // filter the cards of this page by text (static export; the server filters the whole run)
    var box = document.getElementById("pagefilter");
    if (box) {
      box.addEventListener("input", function () {
        var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
        document.querySelectorAll(".card").forEach(function (c) {
          var text = (c.getAttribute("data-text") + " " + c.textContent).toLowerCase();
          var hit = words.every(function (w) { return text.indexOf(w) >= 0; });
          c.classList.toggle("hidden", !hit);
        });
      });
    }
    // sort the rating grid by disagreement with the human rating, largest first
    var sortBtn = document.getElementById("sortdis");
    if (sortBtn) {
      sortBtn.addEventListener("click", function () {
        var grid = document.getElementById("cards");
        var cards = Array.prototype.slice.call(grid.querySelectorAll(".card"));
        cards.sort(function (a, b) {
          return parseFloat(b.getAttribute("data-disagreement")) - parseFloat(a.getAttribute("data-disagreement"));
        });
        cards.forEach(function (c) { grid.appendChild(c); });
      });
    }
    // apply filters as soon as a select changes
    var form = document.getElementById("filters");
    if (form) {
      form.querySelectorAll("select").forEach(function (s) {
        s.addEventListener("change", function () { form.submit(); });
      });
    }
  });
})();
