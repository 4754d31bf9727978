// The console's few scripts: live list rows, live search, a notice when the open variable changes, and the
// rollout remainder as weights are typed. Everything works without them; they only spare a reload.
'use strict';

(function () {
  const root = document.body.dataset.root || '/ui/';

  function follow(onNames) {
    if (!window.EventSource) return;
    const source = new EventSource(root + 'updates');
    source.onmessage = function (event) {
      try { onNames(JSON.parse(event.data).names || []); } catch (e) { /* not ours: ignore */ }
    };
    window.addEventListener('beforeunload', function () { source.close(); });
  }

  // The variables list: fetch the rows again whenever a write commits (at most every 250 ms).
  const rows = document.getElementById('variable-rows');
  const search = document.getElementById('search');
  if (rows) {
    let timer = null;
    const refresh = function () {
      timer = null;
      const query = search ? search.value : '';
      fetch(rows.dataset.rows + '?q=' + encodeURIComponent(query), { credentials: 'same-origin' })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) { if (html !== null) rows.innerHTML = html; });
    };
    follow(function () { if (!timer) timer = setTimeout(refresh, 250); });
    const live = document.getElementById('live-status');
    if (live) live.hidden = false;
    if (search) search.addEventListener('input', function () { if (!timer) timer = setTimeout(refresh, 150); });
  }

  // A variable's page: say so when someone else changes it.
  const heading = document.getElementById('variable-name');
  const notice = document.getElementById('changed-notice');
  if (heading && notice) {
    follow(function (names) { if (names.indexOf(heading.dataset.name) >= 0) notice.hidden = false; });
  }

  // Rollout forms: the code default's remainder, as the weights are typed.
  const weights = document.getElementById('weights');
  const remainder = document.getElementById('weights-remainder');
  if (weights && remainder) {
    const update = function () {
      let sum = 0;
      let bad = false;
      weights.querySelectorAll('input.weight').forEach(function (input) {
        const text = input.value.trim();
        if (!text) return;
        const value = Number(text);
        if (Number.isNaN(value)) bad = true; else sum += value;
      });
      const rest = 1 - sum;
      remainder.textContent = bad ? '?' : (rest < -1e-9 ? 'over 1 by ' + (-rest).toFixed(4) : Math.max(0, rest).toFixed(4).replace(/\.?0+$/, '') || '0');
    };
    weights.addEventListener('input', update);
    update();
  }
})();
