// Live progress of a deployment: polls the gateway and appends the deployer's log.
(function () {
  "use strict";
  var log = document.getElementById("log");
  var state = document.getElementById("state");
  var summary = document.getElementById("summary");
  var countdown = document.getElementById("countdown");
  if (!log) { return; }
  var after = parseInt(log.dataset.after || "0", 10);
  var current = log.dataset.state;
  function tick() {
    fetch(log.dataset.progress + "?after=" + after, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        data.lines.forEach(function (l) { log.appendChild(document.createTextNode(l.line + "\n")); after = l.id; });
        if (data.lines.length) { log.scrollTop = log.scrollHeight; }
        state.textContent = data.state;
        state.className = "state-" + data.state;
        summary.textContent = data.summary;
        if (data.state !== current && (current === "running" || data.state === "running")) {
          var form = document.getElementById("deploy-form");
          if (form && data.state === "running") { form.hidden = true; }
        }
        current = data.state;
        if (data.state === "running" || data.more) { setTimeout(tick, 1000); }
        else if (data.state !== "ready") {
          var form2 = document.getElementById("deploy-form");
          if (form2 && data.state !== "failed") { form2.hidden = true; }
        }
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  function countdownTick() {
    if (!countdown) { return; }
    var left = Math.max(0, Math.floor((Date.parse(countdown.dataset.end) - Date.now()) / 1000));
    var h = Math.floor(left / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
    countdown.textContent = "(" + (h ? h + " h " : "") + m + " min " + s + " s left)";
    if (left > 0) { setTimeout(countdownTick, 1000); }
  }
  countdownTick();
  if (current === "running" || current === "ready" || current === "failed") { tick(); }
})();
