/* The fiat view of the cashier page (Alipay / WeChat Pay): seed 000's
 * urlscheme first on a phone (the app opens), then the QR code, then the
 * pay URL, with a browser fallback. cashier.js shows it after the payer's
 * choice (show) and redraws it on a language switch (render).
 */
(function () {
  "use strict";

  var C = window.CashierCore;
  var T = window.CashierText;
  var t = T.t;
  var $ = C.$;

  var st = { fiat: null, device: "pc" };

  function walletName(type) { return t(type === "alipay" ? "wallet_alipay" : "wallet_wxpay"); }

  function showFiatQr(text, name) {
    var img = $("fiat-qr");
    if (img.getAttribute("src") !== C.qrSrc(text)) img.src = C.qrSrc(text);
    img.alt = t("fiat_qr_alt", { name: name });
    $("fiat-qr-caption").textContent = t(st.device === "mobile" ? "fiat_qr_mobile" : "fiat_qr", { name: name });
    C.show("fiat-qr-box", true);
    $("fiat-hint").textContent = t("fiat_updates");
  }

  function offerWebFallback(payurl) {
    if (!C.isWebUrl(payurl)) return;
    var link = $("fiat-link");
    link.href = payurl;
    link.textContent = t("fiat_web");
    link.hidden = false;
  }

  function render() {
    if (!st.fiat) return;
    var data = st.fiat.data;
    var name = walletName(st.fiat.type);
    var scheme = C.safeUrl(data.urlscheme);
    var qrcode = C.firstText(data.qrcode);
    var payurl = C.safeUrl(data.payurl);
    var open = $("fiat-open");
    open.hidden = true;
    $("fiat-link").hidden = true;
    C.show("fiat-qr-box", false);
    $("fiat-title").textContent = t("fiat_title", { name: name });
    if (st.device === "mobile" && scheme) {
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

  // Renders, then (seed 000) on a phone opens the app scheme, or the pay URL
  // when there is no QR code; the caller switches the page to this view first.
  function show(type, data, device) {
    st.fiat = { type: type, data: data };
    st.device = device;
    render();
    var scheme = C.safeUrl(data.urlscheme);
    var payurl = C.safeUrl(data.payurl);
    if (device === "mobile" && scheme) window.location.href = scheme;
    else if (!C.firstText(data.qrcode) && payurl && device === "mobile") window.location.href = payurl;
  }

  window.CashierFiat = {
    show: show,
    render: render,
    clear: function () { st.fiat = null; }
  };
})();
