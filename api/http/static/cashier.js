/* The cashier page (seed 000): loads an order, lets the payer pick a
 * channel, shows USDT transfer details or a fiat QR code / app link, polls
 * the order's status and reports paid or expired.
 *
 * Plain browser JavaScript with no dependencies; QR codes are SVG images
 * rendered by usdtpay at /api/qr.svg. The server's answers are read
 * tolerantly: the seed's fields first, extra fields only when present.
 */
(function () {
  "use strict";

  var POLL_MS = 3000;
  var POLL_MAX_MS = 15000;
  // A USDT payment may still settle after expiry (the late window), so the
  // page keeps looking, more slowly, for a while after the countdown ends.
  var LATE_POLL_MS = 10000;
  var LATE_POLL_FOR_MS = 30 * 60 * 1000;
  var RETURN_DELAY_MS = 3000;

  var CHAINS = {
    tron: { label: "TRC20", name: "TRON 波场", type: "usdt_trc20" },
    eth: { label: "ERC20", name: "Ethereum 以太坊", type: "usdt_erc20" }
  };
  var FIAT = {
    alipay: { zh: "支付宝", en: "Alipay" },
    wxpay: { zh: "微信", en: "WeChat" }
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
    channels: null,
    pollTimer: 0,
    pollDelay: POLL_MS,
    tickTimer: 0
  };

  function $(id) { return document.getElementById(id); }

  function show(id, visible) { $(id).hidden = !visible; }

  function announce(text) {
    var live = $("live");
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 50);
  }

  var PANES = ["pane-loading", "pane-error", "pane-choose", "pane-usdt", "pane-fiat", "pane-paid", "pane-expired"];

  function setPhase(phase) {
    state.phase = phase;
    var main = $("cashier");
    main.setAttribute("data-state", phase);
    main.setAttribute("aria-busy", phase === "loading" ? "true" : "false");
    PANES.forEach(function (id) { show(id, id === "pane-" + phase); });
    var final = phase === "paid" || phase === "expired";
    $("countdown-row").hidden = final || phase === "error";
    if (final || phase === "choose" || phase === "error" || phase === "loading") show("back", false);
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
          throw new Error("服务器返回了无法识别的内容 (HTTP " + resp.status + ") · unexpected server answer");
        }
        if (json.success === false || !resp.ok) {
          throw new Error(firstText(json.msg, json.message, json.detail, "HTTP " + resp.status));
        }
        json.__serverDate = serverDate;
        return json;
      });
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
    if (left <= 0) markExpired();
  }

  function markExpired() {
    if (state.phase === "paid" || state.phase === "expired") return;
    window.clearInterval(state.tickTimer);
    setPhase("expired");
    announce("订单已过期 Expired");
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
        if (json.expired === true || isExpiredStatus(json.state) || isExpiredStatus(data.status)) markExpired();
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
    announce("支付成功 Paid");
    var target = safeUrl(firstText(returnUrl, state.returnUrl));
    if (!isWebUrl(target)) return;
    var link = $("return-link");
    link.href = target;
    link.hidden = false;
    $("paid-note").textContent = "支付成功,即将返回商户… Paid — returning to the merchant…";
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
    var text = $(button.getAttribute("data-copy")).textContent;
    var original = button.innerHTML;
    copyText(text).then(
      function () { button.textContent = "已复制 Copied"; announce("已复制 Copied " + text); },
      function () { button.textContent = "请手动复制 Copy by hand"; }
    ).then(function () {
      button.classList.add("done");
      window.setTimeout(function () { button.innerHTML = original; button.classList.remove("done"); }, 1600);
    });
  }

  /* ---------- USDT ---------- */

  function showUsdt(details) {
    var chain = CHAINS[details.chain];
    state.usdt = details;
    $("usdt-chain").textContent = chain.label;
    $("usdt-chain-name").textContent = chain.name;
    $("usdt-address").textContent = details.address;
    showAmount(details.amount);
    var warning = $("usdt-warning");
    var lookAlike = roundedLookAlike(details.amount);
    warning.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = "请转账精确金额 " + details.amount + " USDT" + (lookAlike ? ",不是 " + lookAlike : "");
    var en = document.createElement("span");
    en.className = "en";
    en.lang = "en";
    en.textContent = "Pay exactly " + details.amount + " USDT" + (lookAlike ? ", not " + lookAlike : "") +
      ". Any other amount cannot be matched to this order. Network fees are paid on top.";
    warning.appendChild(strong);
    warning.appendChild(en);
    $("usdt-network-hint").textContent = "仅支持 " + chain.label + " 网络的 USDT,其他币种或网络的转账将无法到账。" +
      " Send USDT on " + chain.label + " only; other tokens or networks will be lost.";
    selectQr("address");
    setPhase("usdt");
  }

  // The digits past the cent are what make the amount unique: set them apart
  // (the element's text stays the plain amount, which is what gets copied).
  function showAmount(amount) {
    var box = $("usdt-amount");
    box.textContent = "";
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
    var tabs = document.querySelectorAll(".qr-tab");
    Array.prototype.forEach.call(tabs, function (tab) {
      tab.setAttribute("aria-pressed", tab.getAttribute("data-qr") === which ? "true" : "false");
    });
    var text = which === "amount" ? details.amount : details.address;
    var img = $("usdt-qr");
    img.src = qrSrc(text);
    img.alt = (which === "amount" ? "转账金额二维码 QR code of the amount " : "收款地址二维码 QR code of the address ") + text;
    $("usdt-qr-caption").textContent = which === "amount"
      ? "扫码得到金额 Scan for the amount"
      : "用钱包扫码得到地址 Scan with your wallet for the address";
  }

  function usdtFrom(data, fallbackChain) {
    var address = firstText(data.address, data.u_addr, data.usdt_address);
    var amount = firstText(data.amount, data.usdt_amount, data.u_amount);
    var chain = chainKey(firstText(data.chain, data.u_type, data.usdt_chain)) || fallbackChain || "";
    if (!address || !/^\d+(\.\d+)?$/.test(amount) || !CHAINS[chain]) return null;
    return { address: address, amount: amount, chain: chain };
  }

  /* ---------- fiat ---------- */

  function showFiat(type, data) {
    var names = FIAT[type] || { zh: type, en: type };
    var scheme = safeUrl(data.urlscheme);
    var qrcode = firstText(data.qrcode);
    var payurl = safeUrl(data.payurl);
    var open = $("fiat-open");
    var link = $("fiat-link");
    open.hidden = true;
    link.hidden = true;
    show("fiat-qr-box", false);
    $("fiat-title").textContent = names.zh + "支付 " + names.en;
    setPhase("fiat");
    show("back", true);
    // Seed 000: urlscheme first (mobile app), then qrcode, then payurl.
    if (state.device === "mobile" && scheme) {
      open.href = scheme;
      open.textContent = "打开" + names.zh + " Open " + names.en;
      open.hidden = false;
      $("fiat-hint").textContent = "如未自动跳转,请点击上方按钮。 If the app did not open, tap the button.";
      offerWebFallback(payurl);
      window.location.href = scheme;
      return;
    }
    if (qrcode) {
      showFiatQr(qrcode, names);
      offerWebFallback(payurl);
      return;
    }
    if (payurl) {
      showFiatQr(payurl, names);
      open.href = payurl;
      open.textContent = "前往支付 Go to payment";
      open.hidden = false;
      if (state.device === "mobile") window.location.href = payurl;
      return;
    }
    $("fiat-hint").textContent = "支付渠道未返回支付方式,请更换支付方式。 The channel gave no way to pay; choose another method.";
  }

  function showFiatQr(text, names) {
    $("fiat-qr").src = qrSrc(text);
    $("fiat-qr").alt = names.zh + "支付二维码 " + names.en + " QR code";
    $("fiat-qr-caption").textContent = state.device === "mobile"
      ? "请截图或长按二维码,用" + names.zh + "扫一扫 Save or long-press, then scan with " + names.en
      : "请使用" + names.zh + "扫一扫 Scan with " + names.en;
    show("fiat-qr-box", true);
    $("fiat-hint").textContent = "支付完成后本页会自动更新。 This page updates by itself once you have paid.";
  }

  function offerWebFallback(payurl) {
    if (!isWebUrl(payurl)) return;
    var link = $("fiat-link");
    link.href = payurl;
    link.textContent = "在网页中支付 Pay in the browser";
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
    show("choose-error", false);
    setPhase("choose");
    var visible = allowed.filter(function (t) { return ALL_TYPES.indexOf(t) >= 0; });
    if (auto && visible.length === 1) choose(visible[0]);
  }

  function setChoosing(busy, type) {
    var buttons = document.querySelectorAll(".channel");
    Array.prototype.forEach.call(buttons, function (button) {
      button.disabled = busy;
      button.classList.toggle("busy", busy && button.getAttribute("data-type") === type);
    });
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
          if (!details) throw new Error("未返回收款地址或金额 · no address or amount in the answer");
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
        var box = $("choose-error");
        box.textContent = "获取支付参数失败:" + err.message + " · Could not start the payment; try again or pick another method.";
        box.hidden = false;
      });
  }

  /* ---------- loading the order ---------- */

  function applyOrder(json) {
    var data = json.data && typeof json.data === "object" ? json.data : {};
    $("subject").textContent = firstText(data.name, data.subject, "订单 Order");
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

  function load() {
    setPhase("loading");
    api("GET", "/api/cashier_info?orderId=" + encodeURIComponent(state.orderId))
      .then(function (json) {
        var data = applyOrder(json);
        if (isPaid(data.status)) { markPaid(data.return_url); return; }
        if (isExpiredStatus(data.status)) { markExpired(); schedulePoll(LATE_POLL_MS); return; }
        var details = usdtFrom(data, "");
        if (details) showUsdt(details);
        else showChoice(state.channels, true);
        startCountdown();
        schedulePoll(POLL_MS);
      })
      .catch(function (err) {
        $("error-msg").textContent = err.message;
        setPhase("error");
      });
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
      showChoice(state.channels, false);
      focusPane("pane-choose");
    });
    document.addEventListener("visibilitychange", function () {
      // Back from the wallet app: look at once instead of waiting for the timer.
      if (document.visibilityState === "visible" && state.phase !== "paid" && state.orderId) schedulePoll(0);
    });
  }

  function init() {
    state.device = isMobileDevice() ? "mobile" : "pc";
    document.documentElement.setAttribute("data-device", state.device);
    wire();
    state.orderId = new URLSearchParams(window.location.search).get("orderId") || "";
    $("order-id").textContent = state.orderId;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(state.orderId)) {
      $("error-msg").textContent = "链接中缺少有效的订单号 (orderId)。请回到商户页面重新下单。" +
        " The link has no valid orderId; go back to the shop and start again.";
      show("retry", false);
      setPhase("error");
      return;
    }
    load();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
