// The inbox keeps itself fresh: every few seconds it fetches the lists (server-rendered,
// escaped HTML) and puts them in place, so a new hand-off shows without a reload. Without
// this script the page works the same with its reload link.
(function () {
  "use strict";
  var lists = document.getElementById("inbox-lists");
  if (!lists) { return; }
  var url = lists.getAttribute("data-updates");
  var EVERY_MS = 5000;

  function refresh() {
    if (document.hidden) { return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        // A session that ended answers with the sign-in page: leave the list as it is.
        if (!response.ok || response.redirected) { return null; }
        return response.text();
      })
      .then(function (html) {
        if (html !== null && html !== lists.innerHTML) { lists.innerHTML = html; }
      })
      .catch(function () { /* offline for a moment: the next round tries again */ });
  }

  window.setInterval(refresh, EVERY_MS);
})();
