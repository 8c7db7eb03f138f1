// Keeps a console page live: every element with data-live="SECONDS" is fetched again from the page's own URL at
// that interval and replaced in place. Without JavaScript the page is a plain page (reload to refresh).
(function () {
  "use strict";
  function refresh(el) {
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Console-Live": "1" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = el.id ? doc.getElementById(el.id) : null;
        if (fresh) {
          el.innerHTML = fresh.innerHTML;
          el.setAttribute("data-refreshed", new Date().toISOString());
        }
      })
      .catch(function () { /* the next interval tries again */ });
  }
  document.querySelectorAll("[data-live]").forEach(function (el) {
    var seconds = Math.max(1, parseInt(el.getAttribute("data-live"), 10) || 60);
    window.setInterval(function () { refresh(el); }, seconds * 1000);
  });
})();
