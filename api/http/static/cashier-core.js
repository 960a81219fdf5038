/* What every part of the cashier page shares: DOM helpers, reading the
 * server's answers (api), safe links, the exact-amount display and its
 * warning, and the copy buttons. Loaded after cashier-i18n.js and before
 * the views (cashier-chain.js, cashier-exchange.js, cashier-fiat.js), the
 * countdown and polling (cashier-poll.js) and cashier.js.
 */
(function () {
  "use strict";

  var T = window.CashierText;
  var t = T.t;

  function $(id) { return document.getElementById(id); }

  function show(id, visible) { $(id).hidden = !visible; }

  function announce(text) {
    var live = $("live");
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  // Only links that open a page or an app; never javascript:, data: and the like.
  function safeUrl(value) {
    if (typeof value !== "string" || !value.trim()) return "";
    var text = value.trim();
    var match = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(text);
    if (!match) return "";
    var scheme = match[1].toLowerCase();
    if (["javascript", "data", "vbscript", "file", "blob", "about", "filesystem"].indexOf(scheme) >= 0) return "";
    return text;
  }

  function isWebUrl(value) { return /^https?:\/\//i.test(value || ""); }

  function qrSrc(text) { return "/api/qr.svg?data=" + encodeURIComponent(text); }

  function firstText() {
    for (var i = 0; i < arguments.length; i++) {
      var v = arguments[i];
      if (v !== undefined && v !== null && String(v) !== "") return String(v);
    }
    return "";
  }

  function objectOr(value) { return value && typeof value === "object" ? value : null; }

  // "13.890001" → its 2-decimal look-alike "13.89", by text (never floats).
  function roundedLookAlike(amount) {
    var m = /^(\d+)\.(\d+)$/.exec(amount);
    if (!m || m[2].length <= 2) return "";
    var shortText = m[1] + "." + m[2].slice(0, 2);
    return /^0*$/.test(m[2].slice(2)) ? "" : shortText;
  }

  // The digits past the cent are what make the amount unique: set them apart
  // (the element's data-value stays the plain amount, which is what gets copied).
  function showAmount(id, amount) {
    var box = $(id);
    box.textContent = "";
    box.setAttribute("data-value", amount);
    var m = /^(\d+\.\d{2})(\d+)$/.exec(amount);
    box.appendChild(document.createTextNode(m ? m[1] : amount));
    if (!m) return;
    var tail = document.createElement("span");
    tail.className = "tail";
    tail.textContent = m[2];
    box.appendChild(tail);
  }

  // "Pay exactly 13.890001 USDT, not 13.89." in bold, then `moreKey`'s text.
  function exactWarning(id, amount, moreKey) {
    var warning = $(id);
    var lookAlike = roundedLookAlike(amount);
    warning.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = t("warn_exact", { amount: amount }) +
      (lookAlike ? t("warn_not", { short: lookAlike }) : "") + (T.lang() === "zh" ? "。" : ".");
    var more = document.createElement("span");
    more.textContent = t(moreKey);
    warning.appendChild(strong);
    warning.appendChild(more);
  }

  /* ---------- HTTP ---------- */

  // Failures carry the server's text in both languages when it sent both.
  function failure(json, status) {
    var en = firstText(json && (json.msg_en || json.msg || json.message || json.detail), "HTTP " + status);
    var err = new Error(en);
    err.text = { zh: firstText(json && json.msg_zh, en), en: en };
    err.code = json && json.code;
    err.status = status;
    return err;
  }

  function api(method, path, body) {
    var init = { method: method, headers: { Accept: "application/json" }, cache: "no-store" };
    if (body) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (resp) {
      var serverDate = Date.parse(resp.headers.get("Date") || "");
      return resp.text().then(function (text) {
        var json = null;
        try { json = JSON.parse(text); } catch (e) { json = null; }
        if (!json || typeof json !== "object") {
          var err = new Error("HTTP " + resp.status);
          err.text = T.both("bad_answer", { status: resp.status });
          throw err;
        }
        if (json.success === false || !resp.ok) throw failure(json, resp.status);
        json.__serverDate = serverDate;
        return json;
      });
    }, function () {
      var err = new Error("network");
      err.text = T.both("network_error");
      throw err;
    });
  }

  /* ---------- copy ---------- */

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return legacyCopy(text); });
    }
    return legacyCopy(text);
  }

  function legacyCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy failed"));
  }

  function onCopyClick(event) {
    var button = event.currentTarget;
    var source = $(button.getAttribute("data-copy"));
    // The whole value, never the grouped display.
    var text = source.getAttribute("data-value") || source.textContent;
    copyText(text).then(
      function () { button.textContent = t("copied"); announce(t("copied") + " " + text); },
      function () { button.textContent = t("copy_by_hand"); }
    ).then(function () {
      button.classList.add("done");
      window.setTimeout(function () { button.textContent = t("copy"); button.classList.remove("done"); }, 1600);
    });
  }

  window.CashierCore = {
    $: $,
    show: show,
    announce: announce,
    safeUrl: safeUrl,
    isWebUrl: isWebUrl,
    qrSrc: qrSrc,
    firstText: firstText,
    objectOr: objectOr,
    showAmount: showAmount,
    exactWarning: exactWarning,
    api: api,
    onCopyClick: onCopyClick
  };
})();
