/* The cashier page (seed 000): loads an order, lets the payer pick a
 * channel, shows how to pay it and reports paid or expired. This file owns
 * the page's phases; the parts live beside it:
 *
 *   cashier-i18n.js      texts in Chinese and English, the language switch
 *   cashier-core.js      DOM helpers, the server's answers, amounts, copying
 *   cashier-chain.js     on-chain USDT: address, exact amount, QR code
 *   cashier-exchange.js  USDT by internal transfer at OKX / Binance / HTX
 *   cashier-fiat.js      Alipay / WeChat Pay: QR code or app link
 *   cashier-poll.js      the countdown and the status polling
 *   cashier-payment.js   confirming n / N, near misses, "I have paid"
 *
 * Plain browser JavaScript with no dependencies and no build step; QR codes
 * are SVG images rendered by usdtpay at /api/qr.svg. The server's answers
 * are read tolerantly: the seed's fields first, extra fields only when present.
 */
(function () {
  "use strict";

  var C = window.CashierCore;
  var T = window.CashierText;
  var Chain = window.CashierChain;
  var Exchange = window.CashierExchange;
  var Fiat = window.CashierFiat;
  var Poll = window.CashierPoll;
  var t = T.t;
  var $ = C.$;
  var show = C.show;
  var RETURN_DELAY_MS = 3000;
  var ALL_TYPES = ["alipay", "wxpay", "usdt_trc20", "usdt_erc20"];
  var PANES = ["pane-loading", "pane-error", "pane-choose", "pane-usdt", "pane-exchange", "pane-confirming",
    "pane-fiat", "pane-paid", "pane-expired"];

  var state = {
    orderId: "",
    device: "pc",
    expireAt: 0, // ms, server clock
    skewMs: 0, // server clock minus this device's clock
    returnUrl: "",
    phase: "loading",
    channels: null,
    errorMsg: null,
    chooseMsg: null,
    returning: false
  };

  function setPhase(phase) {
    state.phase = phase;
    var main = $("cashier");
    main.setAttribute("data-state", phase);
    main.setAttribute("aria-busy", phase === "loading" ? "true" : "false");
    PANES.forEach(function (id) { show(id, id === "pane-" + phase); });
    var final = phase === "paid" || phase === "expired";
    $("countdown-row").hidden = final || phase === "error" || phase === "confirming";
    if (final || phase === "choose" || phase === "error" || phase === "loading" || phase === "confirming" ||
        phase === "exchange") {
      show("back", false);
    }
    window.CashierPayment.phaseChanged(phase);
  }

  // After the payer's own action, move focus to the new pane's heading so
  // keyboard and screen-reader users land where the page changed.
  function focusPane(id) {
    var heading = $(id).querySelector("h2");
    if (!heading) return;
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
  }

  function isMobileDevice() {
    var forced = new URLSearchParams(window.location.search).get("device");
    if (forced === "mobile" || forced === "pc") return forced === "mobile";
    var ua = navigator.userAgent || "";
    if (/Android|iPhone|iPad|iPod|Mobile|HarmonyOS|MicroMessenger|AlipayClient/i.test(ua)) return true;
    return window.matchMedia("(pointer: coarse)").matches && window.innerWidth < 900;
  }

  function formatPrice(data) {
    var price = C.firstText(data.price);
    if (!price) return "";
    var currency = String(data.currency || "CNY").toUpperCase();
    return currency === "USDT" ? price + " USDT" : "¥" + price;
  }

  function markExpired() {
    if (state.phase === "paid" || state.phase === "expired") return;
    Poll.stopCountdown();
    setPhase("expired");
    C.announce(t("expired"));
  }

  function markPaid(returnUrl) {
    Poll.stop();
    setPhase("paid");
    C.announce(t("paid"));
    var target = C.safeUrl(C.firstText(returnUrl, state.returnUrl));
    if (!C.isWebUrl(target)) return;
    var link = $("return-link");
    link.href = target;
    link.hidden = false;
    state.returning = true;
    $("paid-note").textContent = t("returning");
    window.setTimeout(function () { window.location.assign(target); }, RETURN_DELAY_MS);
  }

  function showUsdt(details) {
    Chain.show(details);
    setPhase("usdt");
  }

  function showExchange(details) {
    Exchange.show(details);
    window.CashierPayment.claimTexts(Exchange.claimTexts);
    setPhase("exchange");
  }

  /* ---------- choosing a channel ---------- */

  function showChoice(types, auto) {
    var allowed = Array.isArray(types) && types.length ? types : ALL_TYPES;
    var buttons = document.querySelectorAll(".channel");
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = allowed.indexOf(button.getAttribute("data-type")) < 0;
      button.disabled = false;
    });
    state.chooseMsg = null;
    show("choose-error", false);
    setPhase("choose");
    var visible = allowed.filter(function (type) { return ALL_TYPES.indexOf(type) >= 0; });
    if (auto && visible.length === 1) choose(visible[0]);
  }

  function setChoosing(busy, type) {
    var buttons = document.querySelectorAll(".channel");
    Array.prototype.forEach.call(buttons, function (button) {
      button.disabled = busy;
      button.classList.toggle("busy", busy && button.getAttribute("data-type") === type);
    });
  }

  function renderChooseError() {
    var box = $("choose-error");
    if (!state.chooseMsg) { box.hidden = true; return; }
    box.textContent = t("start_failed", { msg: T.pick(state.chooseMsg) });
    box.hidden = false;
  }

  function chosen(type, data) {
    if (type.indexOf("usdt_") === 0) {
      var details = Chain.from(data, Chain.chainKey(type));
      if (!details) {
        var err = new Error("no address");
        err.text = T.both("no_address");
        throw err;
      }
      showUsdt(details);
      show("back", true);
      focusPane("pane-usdt");
      return;
    }
    Fiat.show(type, data, state.device);
    setPhase("fiat");
    show("back", true);
    focusPane("pane-fiat");
  }

  function choose(type) {
    setChoosing(true, type);
    show("choose-error", false);
    C.api("POST", "/api/get_pay_params", { orderId: state.orderId, type: type, device: state.device })
      .then(function (json) {
        setChoosing(false, type);
        var data = json.data && typeof json.data === "object" ? json.data : {};
        if (data.expire_time) state.expireAt = Number(data.expire_time);
        chosen(type, data);
      })
      .catch(function (err) {
        setChoosing(false, type);
        if (state.phase !== "choose") setPhase("choose");
        state.chooseMsg = err.text || err.message;
        renderChooseError();
      });
  }

  /* ---------- loading the order ---------- */

  function applyOrder(json) {
    var data = json.data && typeof json.data === "object" ? json.data : {};
    state.subject = C.firstText(data.name, data.subject);
    $("subject").textContent = state.subject || t("order_fallback");
    var merchant = C.firstText(data.merchant_name);
    $("merchant-name").textContent = merchant;
    show("payee", !!merchant);
    show("order", true);
    $("price").textContent = formatPrice(data);
    var logo = C.safeUrl(data.logo_url) ||
      (typeof data.logo_url === "string" && data.logo_url.charAt(0) === "/" ? data.logo_url : "");
    if (logo) $("logo").src = logo;
    state.returnUrl = C.firstText(data.return_url);
    state.channels = Array.isArray(data.channels) ? data.channels : null;
    if (data.server_time) state.skewMs = Number(data.server_time) - Date.now();
    else if (json.__serverDate && Math.abs(json.__serverDate - Date.now()) > 5000) state.skewMs = json.__serverDate - Date.now();
    state.expireAt = Number(data.expire_time) || 0;
    return data;
  }

  function showError(message) {
    state.errorMsg = message;
    $("error-msg").textContent = T.pick(message);
    setPhase("error");
  }

  // An order already bound to a way of paying shows it at once.
  function showBound(data) {
    var details = Chain.from(data, "");
    if (details) { showUsdt(details); return true; }
    var exchange = Exchange.from(data);
    if (exchange) { showExchange(exchange); return true; }
    return false;
  }

  function load() {
    setPhase("loading");
    C.api("GET", "/api/cashier_info?orderId=" + encodeURIComponent(state.orderId))
      .then(function (json) {
        var data = applyOrder(json);
        if (Poll.isPaid(data.status)) { markPaid(data.return_url); return; }
        var bound = showBound(data);
        if (Poll.isExpiredStatus(data.status) && !data.seen) {
          markExpired();
          window.CashierPayment.update(data);
          Poll.late();
          return;
        }
        if (!bound) showChoice(state.channels, true);
        window.CashierPayment.update(data);
        Poll.startCountdown();
        Poll.soon();
      })
      .catch(function (err) { showError(err.text || err.message); });
  }

  // The language switch: static texts are redone by CashierText; what this
  // page wrote itself is written again from its state.
  function rerender() {
    if (state.phase === "error" && state.errorMsg) $("error-msg").textContent = T.pick(state.errorMsg);
    if (!state.subject) $("subject").textContent = t("order_fallback");
    Chain.render();
    Exchange.render();
    Fiat.render();
    renderChooseError();
    if (state.phase === "paid" && state.returning) $("paid-note").textContent = t("returning");
    $("order").setAttribute("aria-label", t("order_no"));
  }

  function wire() {
    Array.prototype.forEach.call(document.querySelectorAll(".channel"), function (button) {
      button.addEventListener("click", function () { choose(button.getAttribute("data-type")); });
    });
    Array.prototype.forEach.call(document.querySelectorAll(".copy"), function (button) {
      button.addEventListener("click", C.onCopyClick);
    });
    Chain.wire();
    $("retry").addEventListener("click", load);
    $("back").addEventListener("click", function () {
      Chain.clear();
      Fiat.clear();
      showChoice(state.channels, false);
      focusPane("pane-choose");
    });
    $("lang-switch").addEventListener("click", function () { T.toggle(); });
    T.onChange(rerender);
    document.addEventListener("visibilitychange", function () {
      // Back from the wallet app: look at once instead of waiting for the timer.
      if (document.visibilityState === "visible" && state.phase !== "paid" && state.orderId) Poll.now();
    });
  }

  function attachParts() {
    var context = {
      orderId: function () { return state.orderId; },
      phase: function () { return state.phase; },
      expireAt: function () { return state.expireAt; },
      skewMs: function () { return state.skewMs; },
      hasUsdt: function () { return !!(Chain.current() || Exchange.current()); },
      setPhase: setPhase,
      markPaid: markPaid,
      markExpired: markExpired,
      announce: C.announce,
      api: C.api,
      poll: function () { Poll.now(); }
    };
    Poll.attach(context);
    window.CashierPayment.attach(context);
  }

  function init() {
    T.applyStatic();
    state.device = isMobileDevice() ? "mobile" : "pc";
    document.documentElement.setAttribute("data-device", state.device);
    state.orderId = new URLSearchParams(window.location.search).get("orderId") || "";
    attachParts();
    wire();
    $("order-id").textContent = state.orderId;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(state.orderId)) {
      show("retry", false);
      showError(T.both("no_order_id"));
      return;
    }
    load();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
