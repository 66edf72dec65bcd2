// The touchscreen's own number keypad (issue 13): the kiosk has no keyboard. Keys write into
// the chosen field; the preview shows the value the server will save, by the server's rule
// (edge_agent/numbers.py): a decimal comma, a dot only between groups of three digits.
(function () {
  "use strict";
  var PLAIN = /^-?\d+(,\d+)?$/;
  var GROUPED = /^-?[1-9]\d{0,2}(\.\d{3})+(,\d+)?$/;

  function parse(text) {
    var t = text.trim().replace(/[\s\u00a0\u202f\u2009]/g, "").replace("\u2212", "-");
    if (t === "" || t === "-") return { err: "empty" };
    if (PLAIN.test(t)) return { value: parseFloat(t.replace(",", ".")) };
    if (GROUPED.test(t)) return { value: parseFloat(t.replace(/\./g, "").replace(",", ".")) };
    if (t.indexOf(".") >= 0 && /^-?[\d.,]+$/.test(t)) return { err: "use_comma" };
    return { err: "not_number" };
  }

  function format(value, lang) {
    var s = value.toFixed(6).replace(/0+$/, "").replace(/\.$/, "");
    var neg = s.charAt(0) === "-";
    if (neg) s = s.slice(1);
    var parts = s.split(".");
    var group = lang === "en" ? "," : ".";
    var dec = lang === "en" ? "." : ",";
    var whole = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, group);
    if (whole === "0" && !parts[1]) neg = false;
    return (neg ? "-" : "") + whole + (parts[1] ? dec + parts[1] : "");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var pad = document.getElementById("keypad");
    var inputs = Array.prototype.slice.call(document.querySelectorAll("input[data-keypad]"));
    if (!pad || !inputs.length) return;
    var preview = document.getElementById("kp-preview");
    var lang = pad.getAttribute("data-lang");
    var active = inputs.filter(function (i) {
      return i.getAttribute("aria-invalid") === "true";
    })[0] || inputs[0];
    pad.hidden = false;

    function show() {
      var r = parse(active.value);
      var label = active.getAttribute("data-label");
      var unit = active.getAttribute("data-unit");
      var text;
      if (r.err) {
        text = pad.getAttribute("data-" + (r.err === "use_comma" ? "use-comma" :
          r.err === "empty" ? "empty" : "not-number"));
      } else {
        text = pad.getAttribute("data-will-save") + ": " + format(r.value, lang) +
          (unit ? " " + unit : "");
      }
      preview.textContent = label + " — " + text;
      preview.classList.toggle("bad", !!r.err && r.err !== "empty");
    }

    function choose(input) {
      inputs.forEach(function (i) { i.closest(".field").classList.remove("active"); });
      active = input;
      active.closest(".field").classList.add("active");
      show();
    }

    inputs.forEach(function (input) {
      // The keypad replaces the system keyboard, which the kiosk does not have anyway.
      input.setAttribute("inputmode", "none");
      input.addEventListener("focus", function () { choose(input); });
      input.addEventListener("input", show);
    });
    pad.querySelectorAll(".kp-key").forEach(function (key) {
      key.addEventListener("click", function () {
        var k = key.getAttribute("data-key");
        var v = active.value;
        if (k === "del") v = v.slice(0, -1);
        else if (k === "clear") v = "";
        else if (k === "neg") v = v.charAt(0) === "-" ? v.slice(1) : "-" + v;
        else if (k === ",") {
          if (v.indexOf(",") < 0) v += (v === "" || v === "-") ? "0," : ",";
        } else if (v.length < 24) v += k;
        active.value = v;
        show();
      });
    });
    choose(active);
  });
})();
