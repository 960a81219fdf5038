/* The cashier page (seed 000): loads an order, lets the payer pick a
 * channel, shows USDT transfer details or a fiat QR code / app link, polls
 * the order's status and reports paid or expired. The payment's progress on
 * chain (seen, confirming n / N, near misses) and "I have paid" live in
 * cashier-payment.js; the texts, in Chinese and English, in cashier-i18n.js.
 *
 * Plain browser JavaScript with no dependencies; QR codes are SVG images
 * rendered by usdtpay at /api/qr.svg. The server's answers are read
 * tolerantly: the seed's fields first, extra fields only when present.
 */
(function () {
  "use strict";

  var T = window.CashierText;
  var t = T.t;
  var POLL_MS = 3000;
  var POLL_MAX_MS = 15000;
  // A USDT payment may still settle after expiry (the late window), so the
  // page keeps looking, more slowly, for a while after the countdown ends.
  var LATE_POLL_MS = 10000;
  var LATE_POLL_FOR_MS = 30 * 60 * 1000;
  var RETURN_DELAY_MS = 3000;
  var GROUP = 4; // address characters per group

  var CHAINS = {
    tron: { label: "TRC20", name: "chain_tron", network: "tron_sub", type: "usdt_trc20" },
    eth: { label: "ERC20", name: "chain_eth", network: "eth_sub", type: "usdt_erc20" }
  };
  var ALL_TYPES = ["alipay", "wxpay", "usdt_trc20", "usdt_erc20"];

  var state = {
    orderId: "",
    device: "pc",
    expireAt: 0, // ms, server clock
    skewMs: 0, // server clock minus this device's clock
    returnUrl: "",
    phase: "loading",
    usdt: null,
    fiat: null,
    qr: "address",
    channels: null,
    pollTimer: 0,
    pollDelay: POLL_MS,
    tickTimer: 0,
    errorMsg: null,
    chooseMsg: null,
    returning: false
  };

  function $(id) { return document.getElementById(id); }

  function show(id, visible) { $(id).hidden = !visible; }

  function announce(text) {
    var live = $("live");
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  var PANES = ["pane-loading", "pane-error", "pane-choose", "pane-usdt", "pane-confirming", "pane-fiat",
    "pane-paid", "pane-expired"];

  function setPhase(phase) {
    state.phase = phase;
    var main = $("cashier");
    main.setAttribute("data-state", phase);
    main.setAttribute("aria-busy", phase === "loading" ? "true" : "false");
    PANES.forEach(function (id) { show(id, id === "pane-" + phase); });
    var final = phase === "paid" || phase === "expired";
    $("countdown-row").hidden = final || phase === "error" || phase === "confirming";
    if (final || phase === "choose" || phase === "error" || phase === "loading" || phase === "confirming") {
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

  /* ---------- small helpers ---------- */

  function isMobileDevice() {
    var forced = new URLSearchParams(window.location.search).get("device");
    if (forced === "mobile" || forced === "pc") return forced === "mobile";
    var ua = navigator.userAgent || "";
    if (/Android|iPhone|iPad|iPod|Mobile|HarmonyOS|MicroMessenger|AlipayClient/i.test(ua)) return true;
    return window.matchMedia("(pointer: coarse)").matches && window.innerWidth < 900;
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

  function chainKey(value) {
    var v = String(value || "").toLowerCase();
    if (v === "tron" || v === "trc20" || v === "usdt_trc20" || v === "trx") return "tron";
    if (v === "eth" || v === "erc20" || v === "usdt_erc20" || v === "ethereum") return "eth";
    return "";
  }

  function isPaid(status) { return status === 1 || status === "1" || status === "paid" || status === true; }

  function isExpiredStatus(value) { return value === "expired" || value === "closed" || value === "failed"; }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function formatLeft(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    return (h > 0 ? h + ":" + pad(m) : pad(m)) + ":" + pad(s % 60);
  }

  // "13.890001" → its 2-decimal look-alike "13.89", by text (never floats).
  function roundedLookAlike(amount) {
    var m = /^(\d+)\.(\d+)$/.exec(amount);
    if (!m || m[2].length <= 2) return "";
    var shortText = m[1] + "." + m[2].slice(0, 2);
    return /^0*$/.test(m[2].slice(2)) ? "" : shortText;
  }

  function formatPrice(data) {
    var price = firstText(data.price);
    if (!price) return "";
    var currency = String(data.currency || "CNY").toUpperCase();
    return currency === "USDT" ? price + " USDT" : "¥" + price;
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

  /* ---------- countdown ---------- */

  function startCountdown() {
    window.clearInterval(state.tickTimer);
    tick();
    state.tickTimer = window.setInterval(tick, 1000);
  }

  function tick() {
    if (state.phase === "paid" || state.phase === "expired") return;
    if (!state.expireAt) return;
    var left = state.expireAt - (Date.now() + state.skewMs);
    $("countdown").textContent = formatLeft(left);
    $("countdown-row").classList.toggle("urgent", left < 60000);
    // A transfer already seen settles inside the late window: no "expired" then.
    if (left <= 0 && state.phase !== "confirming") markExpired();
  }

  function markExpired() {
    if (state.phase === "paid" || state.phase === "expired") return;
    window.clearInterval(state.tickTimer);
    setPhase("expired");
    announce(t("expired"));
  }

  /* ---------- polling ---------- */

  function schedulePoll(delay) {
    window.clearTimeout(state.pollTimer);
    state.pollTimer = window.setTimeout(poll, delay);
  }

  function pollDeadlinePassed() {
    return state.expireAt && Date.now() + state.skewMs > state.expireAt + LATE_POLL_FOR_MS;
  }

  function poll() {
    if (state.phase === "paid" || pollDeadlinePassed()) return;
    api("GET", "/api/check_order?out_trade_no=" + encodeURIComponent(state.orderId))
      .then(function (json) {
        state.pollDelay = POLL_MS;
        var data = json.data && typeof json.data === "object" ? json.data : {};
        if (isPaid(json.status) || isPaid(data.status)) {
          markPaid(firstText(json.return_url, data.return_url));
          return;
        }
        window.CashierPayment.update(json);
        var expired = json.expired === true || isExpiredStatus(json.state) || isExpiredStatus(data.status);
        if (expired && state.phase !== "confirming") markExpired();
        schedulePoll(state.phase === "expired" ? LATE_POLL_MS : POLL_MS);
      })
      .catch(function () {
        // A network blip or a restarting server: keep trying, backing off.
        state.pollDelay = Math.min(state.pollDelay * 2, POLL_MAX_MS);
        schedulePoll(state.pollDelay);
      });
  }

  function markPaid(returnUrl) {
    window.clearInterval(state.tickTimer);
    window.clearTimeout(state.pollTimer);
    setPhase("paid");
    announce(t("paid"));
    var target = safeUrl(firstText(returnUrl, state.returnUrl));
    if (!isWebUrl(target)) return;
    var link = $("return-link");
    link.href = target;
    link.hidden = false;
    state.returning = true;
    $("paid-note").textContent = t("returning");
    window.setTimeout(function () { window.location.assign(target); }, RETURN_DELAY_MS);
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

  /* ---------- USDT ---------- */

  // Groups of four that never break inside (each a nowrap span); <wbr>
  // between them lets a line break there and adds nothing to a copy.
  function showAddress(address) {
    var box = $("usdt-address");
    box.textContent = "";
    box.setAttribute("data-value", address);
    var groups = [];
    var rest = address;
    if (/^0x/i.test(rest)) { groups.push(rest.slice(0, 2)); rest = rest.slice(2); }
    for (var i = 0; i < rest.length; i += GROUP) groups.push(rest.slice(i, i + GROUP));
    groups.forEach(function (text, index) {
      if (index > 0) box.appendChild(document.createElement("wbr"));
      var group = document.createElement("span");
      group.className = "grp";
      group.textContent = text;
      box.appendChild(group);
    });
  }

  function renderUsdt() {
    var details = state.usdt;
    if (!details) return;
    var chain = CHAINS[details.chain];
    $("usdt-chain").textContent = chain.label;
    $("usdt-chain-name").textContent = t(chain.network);
    var warning = $("usdt-warning");
    var lookAlike = roundedLookAlike(details.amount);
    warning.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = t("warn_exact", { amount: details.amount }) +
      (lookAlike ? t("warn_not", { short: lookAlike }) : "") + (T.lang() === "zh" ? "。" : ".");
    var more = document.createElement("span");
    more.textContent = t("warn_more");
    warning.appendChild(strong);
    warning.appendChild(more);
    $("usdt-network-hint").textContent = t("network_hint", { chain: t(chain.name) });
    selectQr(state.qr);
  }

  function showUsdt(details) {
    state.usdt = details;
    state.qr = "address";
    showAddress(details.address);
    showAmount(details.amount);
    renderUsdt();
    setPhase("usdt");
  }

  // The digits past the cent are what make the amount unique: set them apart
  // (the element's text stays the plain amount, which is what gets copied).
  function showAmount(amount) {
    var box = $("usdt-amount");
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

  function selectQr(which) {
    var details = state.usdt;
    if (!details) return;
    state.qr = which;
    var tabs = document.querySelectorAll(".qr-tab");
    Array.prototype.forEach.call(tabs, function (tab) {
      tab.setAttribute("aria-pressed", tab.getAttribute("data-qr") === which ? "true" : "false");
    });
    var text = which === "amount" ? details.amount : details.address;
    var img = $("usdt-qr");
    var src = qrSrc(text);
    if (img.getAttribute("src") !== src) img.src = src;
    img.alt = t(which === "amount" ? "qr_alt_amount" : "qr_alt_address", { text: text });
    $("usdt-qr-caption").textContent = t(which === "amount" ? "qr_caption_amount" : "qr_caption_address");
  }

  function usdtFrom(data, fallbackChain) {
    var address = firstText(data.address, data.u_addr, data.usdt_address);
    var amount = firstText(data.amount, data.usdt_amount, data.u_amount);
    var chain = chainKey(firstText(data.chain, data.u_type, data.usdt_chain)) || fallbackChain || "";
    if (!address || !/^\d+(\.\d+)?$/.test(amount) || !CHAINS[chain]) return null;
    return { address: address, amount: amount, chain: chain };
  }

  /* ---------- fiat ---------- */

  function walletName(type) { return t(type === "alipay" ? "wallet_alipay" : "wallet_wxpay"); }

  function showFiat(type, data) {
    state.fiat = { type: type, data: data };
    var scheme = safeUrl(data.urlscheme);
    var qrcode = firstText(data.qrcode);
    var payurl = safeUrl(data.payurl);
    renderFiat();
    setPhase("fiat");
    show("back", true);
    // Seed 000: urlscheme first (mobile app), then qrcode, then payurl.
    if (state.device === "mobile" && scheme) window.location.href = scheme;
    else if (!qrcode && payurl && state.device === "mobile") window.location.href = payurl;
  }

  function renderFiat() {
    if (!state.fiat) return;
    var type = state.fiat.type;
    var data = state.fiat.data;
    var name = walletName(type);
    var scheme = safeUrl(data.urlscheme);
    var qrcode = firstText(data.qrcode);
    var payurl = safeUrl(data.payurl);
    var open = $("fiat-open");
    open.hidden = true;
    $("fiat-link").hidden = true;
    show("fiat-qr-box", false);
    $("fiat-title").textContent = t("fiat_title", { name: name });
    if (state.device === "mobile" && scheme) {
      open.href = scheme;
      open.textContent = t("fiat_open", { name: name });
      open.hidden = false;
      $("fiat-hint").textContent = t("fiat_not_opened");
      offerWebFallback(payurl);
      return;
    }
    if (qrcode) {
      showFiatQr(qrcode, name);
      offerWebFallback(payurl);
      return;
    }
    if (payurl) {
      showFiatQr(payurl, name);
      open.href = payurl;
      open.textContent = t("fiat_go");
      open.hidden = false;
      return;
    }
    $("fiat-hint").textContent = t("fiat_none");
  }

  function showFiatQr(text, name) {
    var img = $("fiat-qr");
    if (img.getAttribute("src") !== qrSrc(text)) img.src = qrSrc(text);
    img.alt = t("fiat_qr_alt", { name: name });
    $("fiat-qr-caption").textContent = t(state.device === "mobile" ? "fiat_qr_mobile" : "fiat_qr", { name: name });
    show("fiat-qr-box", true);
    $("fiat-hint").textContent = t("fiat_updates");
  }

  function offerWebFallback(payurl) {
    if (!isWebUrl(payurl)) return;
    var link = $("fiat-link");
    link.href = payurl;
    link.textContent = t("fiat_web");
    link.hidden = false;
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

  function choose(type) {
    setChoosing(true, type);
    show("choose-error", false);
    api("POST", "/api/get_pay_params", { orderId: state.orderId, type: type, device: state.device })
      .then(function (json) {
        setChoosing(false, type);
        var data = json.data && typeof json.data === "object" ? json.data : {};
        if (data.expire_time) state.expireAt = Number(data.expire_time);
        if (type.indexOf("usdt_") === 0) {
          var details = usdtFrom(data, chainKey(type));
          if (!details) {
            var err = new Error("no address");
            err.text = T.both("no_address");
            throw err;
          }
          showUsdt(details);
          show("back", true);
          focusPane("pane-usdt");
        } else {
          showFiat(type, data);
          focusPane("pane-fiat");
        }
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
    state.subject = firstText(data.name, data.subject);
    $("subject").textContent = state.subject || t("order_fallback");
    var merchant = firstText(data.merchant_name);
    $("merchant-name").textContent = merchant;
    show("payee", !!merchant);
    show("order", true);
    $("price").textContent = formatPrice(data);
    var logo = safeUrl(data.logo_url) || (typeof data.logo_url === "string" && data.logo_url.charAt(0) === "/" ? data.logo_url : "");
    if (logo) $("logo").src = logo;
    state.returnUrl = firstText(data.return_url);
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

  function load() {
    setPhase("loading");
    api("GET", "/api/cashier_info?orderId=" + encodeURIComponent(state.orderId))
      .then(function (json) {
        var data = applyOrder(json);
        if (isPaid(data.status)) { markPaid(data.return_url); return; }
        var details = usdtFrom(data, "");
        if (details) showUsdt(details);
        if (isExpiredStatus(data.status) && !data.seen) {
          markExpired();
          window.CashierPayment.update(data);
          schedulePoll(LATE_POLL_MS);
          return;
        }
        if (!details) showChoice(state.channels, true);
        window.CashierPayment.update(data);
        startCountdown();
        schedulePoll(POLL_MS);
      })
      .catch(function (err) { showError(err.text || err.message); });
  }

  // The language switch: static texts are redone by CashierText; what this
  // page wrote itself is written again from its state.
  function rerender() {
    if (state.phase === "error" && state.errorMsg) $("error-msg").textContent = T.pick(state.errorMsg);
    if (!state.subject) $("subject").textContent = t("order_fallback");
    renderUsdt();
    renderFiat();
    renderChooseError();
    if (state.phase === "paid" && state.returning) $("paid-note").textContent = t("returning");
    $("order").setAttribute("aria-label", t("order_no"));
  }

  function wire() {
    Array.prototype.forEach.call(document.querySelectorAll(".channel"), function (button) {
      button.addEventListener("click", function () { choose(button.getAttribute("data-type")); });
    });
    Array.prototype.forEach.call(document.querySelectorAll(".copy"), function (button) {
      button.addEventListener("click", onCopyClick);
    });
    Array.prototype.forEach.call(document.querySelectorAll(".qr-tab"), function (button) {
      button.addEventListener("click", function () { selectQr(button.getAttribute("data-qr")); });
    });
    $("retry").addEventListener("click", load);
    $("back").addEventListener("click", function () {
      state.usdt = null;
      state.fiat = null;
      showChoice(state.channels, false);
      focusPane("pane-choose");
    });
    $("lang-switch").addEventListener("click", function () { T.toggle(); });
    T.onChange(rerender);
    document.addEventListener("visibilitychange", function () {
      // Back from the wallet app: look at once instead of waiting for the timer.
      if (document.visibilityState === "visible" && state.phase !== "paid" && state.orderId) schedulePoll(0);
    });
  }

  function init() {
    T.applyStatic();
    state.device = isMobileDevice() ? "mobile" : "pc";
    document.documentElement.setAttribute("data-device", state.device);
    state.orderId = new URLSearchParams(window.location.search).get("orderId") || "";
    window.CashierPayment.attach({
      orderId: function () { return state.orderId; },
      phase: function () { return state.phase; },
      hasUsdt: function () { return !!state.usdt; },
      setPhase: setPhase,
      markPaid: markPaid,
      announce: announce,
      api: api,
      poll: function () { schedulePoll(0); }
    });
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
