// kimflow: small progressive enhancement. Every page works without this file.
(function () {
  "use strict";

  // Selects marked data-autosubmit submit their form when changed (language, page size).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
    var fallback = select.form.querySelector("noscript");
    if (fallback) { fallback.remove(); }
  });

  // Forms with conditions: ask the server which fields the current values hide (the server evaluates FEEL).
  var form = document.querySelector("form[data-conditions]");
  if (form) {
    var pending = null;
    var refresh = function () {
      var data = new FormData(form);
      data.delete("aktion");
      fetch(form.getAttribute("data-conditions"), {
        method: "POST", body: data, credentials: "same-origin",
        headers: { "X-CSRFToken": form.querySelector("input[name=csrf_token]").value }
      }).then(function (response) { return response.ok ? response.json() : null; })
        .then(function (result) {
          if (!result) { return; }
          form.querySelectorAll("[data-component]").forEach(function (element) {
            element.hidden = result.hidden.indexOf(element.getAttribute("data-component")) >= 0;
          });
        });
    };
    form.addEventListener("change", function () {
      window.clearTimeout(pending);
      pending = window.setTimeout(refresh, 150);
    });
  }

  // Focus the error summary after a failed submission so that screen readers announce it.
  var summary = document.querySelector(".error-summary");
  if (summary) { summary.focus(); }
})();
