/* The exchange view of the cashier page (seed 004 type 2): an order paid by
 * an internal transfer at OKX, Binance or HTX. It shows which exchange, the
 * receiving account as that exchange's app asks a sender for it (UID,
 * email, Pay ID, HTX deposit address), the exact amount with its warning,
 * and the steps in that app. No QR code and no network: nothing goes on a
 * chain. The exchange's facts come from the server (/api/cashier_info
 * `exchange`, both languages, api.http.faces.exchange_cashier); the page's
 * own words from cashier-i18n.js.
 */
(function () {
  "use strict";

  var C = window.CashierCore;
  var T = window.CashierText;
  var t = T.t;
  var $ = C.$;
  var PLATS = ["OKX", "BINANCE", "HTX"];

  var st = { details: null };

  function both(value) {
    var v = C.objectOr(value);
    return v && typeof v.zh === "string" && typeof v.en === "string" ? v : null;
  }

  function steps(value) {
    var v = C.objectOr(value);
    var ok = v && Array.isArray(v.zh) && Array.isArray(v.en);
    return ok ? { zh: v.zh.map(String), en: v.en.map(String) } : { zh: [], en: [] };
  }

  // The exchange order in a cashier_info answer, or null when it is none.
  function from(data) {
    var ex = C.objectOr(data.exchange);
    var amount = C.firstText(data.amount);
    if (!ex || PLATS.indexOf(ex.plat) < 0 || !/^\d+(\.\d+)?$/.test(amount)) return null;
    var to = C.firstText(ex.pay_to, data.address);
    var name = both(ex.name);
    if (!to || !name) return null;
    return {
      plat: ex.plat,
      name: name,
      to: to,
      toLabel: both(ex.to_label) || T.both("ex_to"),
      amount: amount,
      steps: steps(ex.steps),
      refLabel: both(ex.ref_label) || T.both("claim_label"),
      refHint: both(ex.ref_hint) || T.both("claim_placeholder")
    };
  }

  function renderSteps(lines) {
    var list = $("exchange-steps");
    list.textContent = "";
    lines.forEach(function (line) {
      var item = document.createElement("li");
      item.textContent = line;
      list.appendChild(item);
    });
  }

  function render() {
    var d = st.details;
    if (!d) return;
    var name = T.pick(d.name);
    $("exchange-title").textContent = t("ex_title", { name: name });
    $("exchange-name").textContent = name;
    $("exchange-to-label").textContent = T.pick(d.toLabel);
    C.exactWarning("exchange-warning", d.amount, "ex_warn_more");
    renderSteps(d.steps[T.lang()] || d.steps.zh);
    $("exchange-note").textContent = t("ex_note", { name: name });
  }

  function show(details) {
    st.details = details;
    var to = $("exchange-to");
    to.textContent = details.to;
    to.setAttribute("data-value", details.to);
    C.showAmount("exchange-amount", details.amount);
    $("cashier").setAttribute("data-exchange", details.plat.toLowerCase());
    render();
  }

  // What "I have paid" asks for instead of a transaction hash.
  function claimTexts() {
    var d = st.details;
    if (!d) return null;
    var values = { name: T.pick(d.name), ref: T.pick(d.refLabel) };
    return {
      label: values.ref,
      placeholder: T.pick(d.refHint),
      help: t("ex_claim_help", values),
      empty: { zh: t("ex_claim_empty", { ref: d.refLabel.zh }, "zh"), en: t("ex_claim_empty", { ref: d.refLabel.en }, "en") }
    };
  }

  window.CashierExchange = {
    from: from,
    show: show,
    render: render,
    claimTexts: claimTexts,
    current: function () { return st.details; }
  };
})();
