/* The cashier page's clock and polling: the countdown to the order's
 * expiry (on the server's clock), and GET /api/check_order every few
 * seconds until the order is paid, backing off while the server cannot be
 * reached. cashier.js owns the phases and calls attach() with what this
 * needs; the payment's progress goes on to CashierPayment.update().
 */
(function () {
  "use strict";

  var C = window.CashierCore;
  var $ = C.$;
  var POLL_MS = 3000;
  var POLL_MAX_MS = 15000;
  // A USDT payment may still settle after expiry (the late window), so the
  // page keeps looking, more slowly, for a while after the countdown ends.
  var LATE_POLL_MS = 10000;
  var LATE_POLL_FOR_MS = 30 * 60 * 1000;

  var ctx = null;
  var st = { pollTimer: 0, pollDelay: POLL_MS, tickTimer: 0 };

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function formatLeft(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    return (h > 0 ? h + ":" + pad(m) : pad(m)) + ":" + pad(s % 60);
  }

  function isPaid(status) { return status === 1 || status === "1" || status === "paid" || status === true; }

  function isExpiredStatus(value) { return value === "expired" || value === "closed" || value === "failed"; }

  function finalPhase() { return ctx.phase() === "paid" || ctx.phase() === "expired"; }

  /* ---------- countdown ---------- */

  function tick() {
    if (finalPhase() || !ctx.expireAt()) return;
    var left = ctx.expireAt() - (Date.now() + ctx.skewMs());
    $("countdown").textContent = formatLeft(left);
    $("countdown-row").classList.toggle("urgent", left < 60000);
    // A transfer already seen settles inside the late window: no "expired" then.
    if (left <= 0 && ctx.phase() !== "confirming") ctx.markExpired();
  }

  function startCountdown() {
    window.clearInterval(st.tickTimer);
    tick();
    st.tickTimer = window.setInterval(tick, 1000);
  }

  /* ---------- polling ---------- */

  function schedule(delay) {
    window.clearTimeout(st.pollTimer);
    st.pollTimer = window.setTimeout(poll, delay);
  }

  function deadlinePassed() {
    return ctx.expireAt() && Date.now() + ctx.skewMs() > ctx.expireAt() + LATE_POLL_FOR_MS;
  }

  function poll() {
    if (ctx.phase() === "paid" || deadlinePassed()) return;
    C.api("GET", "/api/check_order?out_trade_no=" + encodeURIComponent(ctx.orderId()))
      .then(function (json) {
        st.pollDelay = POLL_MS;
        var data = json.data && typeof json.data === "object" ? json.data : {};
        if (isPaid(json.status) || isPaid(data.status)) {
          ctx.markPaid(C.firstText(json.return_url, data.return_url));
          return;
        }
        window.CashierPayment.update(json);
        var expired = json.expired === true || isExpiredStatus(json.state) || isExpiredStatus(data.status);
        if (expired && ctx.phase() !== "confirming") ctx.markExpired();
        schedule(ctx.phase() === "expired" ? LATE_POLL_MS : POLL_MS);
      })
      .catch(function () {
        // A network blip or a restarting server: keep trying, backing off.
        st.pollDelay = Math.min(st.pollDelay * 2, POLL_MAX_MS);
        schedule(st.pollDelay);
      });
  }

  function stop() {
    window.clearInterval(st.tickTimer);
    window.clearTimeout(st.pollTimer);
  }

  window.CashierPoll = {
    attach: function (context) { ctx = context; },
    isPaid: isPaid,
    isExpiredStatus: isExpiredStatus,
    startCountdown: startCountdown,
    stopCountdown: function () { window.clearInterval(st.tickTimer); },
    soon: function () { schedule(POLL_MS); },
    late: function () { schedule(LATE_POLL_MS); },
    now: function () { schedule(0); },
    stop: stop
  };
})();
