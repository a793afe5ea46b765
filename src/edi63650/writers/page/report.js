// The HTML report's filters: inlined into every report (no network, no library).
(function () {
  "use strict";
  var verdict = document.getElementById("f-verdict");
  var rule = document.getElementById("f-rule");
  var severity = document.getElementById("f-severity");
  var shown = document.getElementById("shown");
  var claims = document.querySelectorAll("details.claim");
  var others = document.querySelectorAll("table.other");
  var filters = document.getElementById("filters");
  if (filters) { filters.hidden = false; }

  function has(list, value) {
    return (" " + (list || "") + " ").indexOf(" " + value + " ") >= 0;
  }

  function apply() {
    var v = verdict.value, r = rule.value, s = severity.value;
    var active = v !== "" || r !== "" || s !== "";
    var count = 0;
    for (var i = 0; i < claims.length; i++) {
      var c = claims[i];
      var ok = (v === "" || c.dataset.verdict === v) &&
        (r === "" || has(c.dataset.rules, r)) &&
        (s === "" || has(c.dataset.severities, s));
      c.hidden = !ok;
      if (ok) { count++; }
    }
    for (var j = 0; j < others.length; j++) {
      // Segments outside claims: shown when nothing is filtered, else only where they hold
      // findings of the rule and severity asked for.
      var o = others[j];
      o.hidden = active && !(o.dataset.rules && v === "" &&
        (r === "" || has(o.dataset.rules, r)) &&
        (s === "" || has(o.dataset.severities, s)));
    }
    shown.textContent = count + " of " + claims.length + " claims shown";
  }

  function reveal() {
    // A link to a finding or a claim opens the claim that holds it.
    var id;
    try { id = decodeURIComponent(location.hash.slice(1)); } catch (e) { return; }
    var target = id && document.getElementById(id);
    if (!target) { return; }
    for (var node = target; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") { node.open = true; node.hidden = false; }
      if (node.tagName === "TABLE" && node.hidden) { node.hidden = false; }
    }
    target.scrollIntoView();
  }

  verdict.addEventListener("change", apply);
  rule.addEventListener("change", apply);
  severity.addEventListener("change", apply);
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[href^='#']");
    if (!link) { return; }
    if (link.dataset.rule) {
      // A rule in the summary: show the claims with its findings, then go to its first one.
      verdict.value = ""; severity.value = ""; rule.value = link.dataset.rule; apply();
    }
    if (link.hash === location.hash) {
      setTimeout(reveal, 0);  // the same place again (its claim closed since): no hashchange
    }
  });
  window.addEventListener("hashchange", reveal);
  var closed = [];
  window.addEventListener("beforeprint", function () {
    closed = [];
    for (var i = 0; i < claims.length; i++) {
      if (!claims[i].open) { closed.push(claims[i]); claims[i].open = true; }
    }
  });
  window.addEventListener("afterprint", function () {
    for (var i = 0; i < closed.length; i++) { closed[i].open = false; }
  });
  apply();
  reveal();
})();
