/* The dashboard keeps itself current without reloading the page (issue 13: a timed
 * <meta http-equiv="refresh"> moved keyboard focus and screen readers back to the top every
 * minute). Every `data-every` seconds it fetches the page again and swaps in the #live region
 * and the "updated at" time; the officer can pause and resume it. Without JavaScript the page
 * shows the time it was made and a plain "refresh" link. */
(function () {
  "use strict";
  var bar = document.getElementById("refresh");
  var live = document.getElementById("live");
  var button = document.getElementById("refresh-pause");
  if (!bar || !live || !button || !window.fetch || !window.DOMParser) {
    return;
  }
  var every = Math.max(10, parseInt(bar.getAttribute("data-every"), 10) || 60) * 1000;
  var timer = null;

  function update() {
    if (live.contains(document.activeElement) && document.activeElement !== document.body) {
      return; // never pull a focused link or button out from under the keyboard
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if (!r.ok || r.redirected) {
          throw new Error("refresh " + r.status);
        }
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        var stamp = doc.getElementById("updated");
        if (fresh && stamp) {
          live.replaceChildren.apply(live, Array.prototype.slice.call(fresh.childNodes));
          document.getElementById("updated").textContent = stamp.textContent;
        }
      })
      .catch(function () {
        /* the next tick tries again; the time shown tells the officer how old the page is */
      });
  }

  function start() {
    timer = window.setInterval(update, every);
    button.textContent = button.getAttribute("data-pause");
    button.setAttribute("aria-pressed", "false");
  }

  function stop() {
    window.clearInterval(timer);
    timer = null;
    button.textContent = button.getAttribute("data-resume");
    button.setAttribute("aria-pressed", "true");
  }

  button.addEventListener("click", function () {
    if (timer === null) {
      update();
      start();
    } else {
      stop();
    }
  });
  button.hidden = false;
  start();
})();
