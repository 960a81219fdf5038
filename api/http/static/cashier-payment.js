/* The payment's progress on the cashier page (issue 17):
 *
 * - "payment received, confirming (n / N)" the moment the watcher sees the
 *   transfer in a block that is not final yet, with the time expected to be
 *   left; back to waiting if a reorganisation drops it (the server then
 *   stops reporting it);
 * - an under- or over-payment to the order's address, explained with what
 *   to do;
 * - "I have paid": the payer pastes a transaction hash and the server
 *   verifies it on chain (POST /api/cashier/paid) and settles the order or
 *   says precisely what is wrong; for an exchange order it asks for that
 *   exchange's identifier of the transfer instead (claimTexts), which the
 *   server checks at the exchange.
 *
 * cashier.js owns the page's phases and calls attach(), update() with each
 * status answer, and phaseChanged().
 */
(function () {
  "use strict";

  var T = window.CashierText;
  var t = T.t;
  var ctx = null;
  var st = { seen: null, near: null, reorged: false, claimMsg: null, claimTexts: null };

  function $(id) { return document.getElementById(id); }

  function objectOr(value) { return value && typeof value === "object" ? value : null; }

  function timeText(seconds) {
    if (seconds === null || seconds === undefined || seconds <= 0) return t("eta_soon");
    var left = seconds >= 90 ? t("minutes", { n: Math.ceil(seconds / 60) }) : t("seconds", { n: seconds });
    return t("eta", { time: left });
  }

  function renderConfirming() {
    var seen = st.seen;
    if (!seen) return;
    var n = Number(seen.confirmations) || 1;
    var needed = Number(seen.needed) || 0;
    $("confirm-title").textContent = needed ? t("confirming", { n: n, needed: needed }) : t("confirming_unknown");
    var bar = $("confirm-progress");
    bar.max = needed || 1;
    bar.value = needed ? Math.min(n, needed) : 0;
    $("confirm-eta").textContent = timeText(seen.seconds_left);
    $("confirm-amount").textContent = String(seen.amount || "");
    $("confirm-tx").textContent = String(seen.tx_hash || "");
  }

  function renderNear() {
    var near = st.near;
    var box = $("near-miss");
    if (!near || (near.reason !== "underpaid" && near.reason !== "overpaid")) { box.hidden = true; return; }
    $("near-miss-title").textContent = t(near.reason === "underpaid" ? "near_underpaid" : "near_overpaid");
    $("near-miss-body").textContent = t("near_body", { sent: near.sent, needed: near.needed }) +
      (near.final ? "" : t("near_confirming"));
    $("near-miss-todo").textContent = t("near_" + near.reason + "_todo", { tx: near.tx_hash });
    box.hidden = false;
  }

  function renderClaim() {
    var box = $("claim-result");
    if (!st.claimMsg) { box.hidden = true; return; }
    box.textContent = T.pick(st.claimMsg);
    box.hidden = false;
  }

  // The form's words for an exchange order (CashierExchange.claimTexts); the
  // static chain texts otherwise, which CashierText has just put back.
  function renderClaimTexts() {
    var texts = st.claimTexts ? st.claimTexts() : null;
    if (!texts) return;
    $("claim-label").textContent = texts.label;
    $("claim-help").textContent = texts.help;
    $("claim-hash").setAttribute("placeholder", texts.placeholder);
  }

  function render() {
    renderConfirming();
    renderNear();
    renderClaimTexts();
    renderClaim();
  }

  function update(answer) {
    if (!ctx) return;
    var seen = objectOr(answer.seen);
    st.near = objectOr(answer.near_miss);
    var phase = ctx.phase();
    if (seen) {
      st.seen = seen;
      st.reorged = false;
      renderConfirming();
      if (phase === "usdt" || phase === "expired") {
        ctx.setPhase("confirming");
        ctx.announce($("confirm-title").textContent);
      }
    } else if (st.seen) {
      st.seen = null;
      if (phase === "confirming") {
        // The server no longer reports the transfer: a reorg or a dropped block.
        st.reorged = true;
        ctx.setPhase("usdt");
        ctx.announce(t("reorg"));
      }
    }
    renderNear();
    phaseChanged(ctx.phase());
  }

  function phaseChanged(phase) {
    if (!ctx) return;
    var usdt = ctx.hasUsdt();
    $("claim").hidden = !(usdt && (phase === "usdt" || phase === "exchange" || phase === "expired"));
    $("reorg-note").hidden = !(st.reorged && phase === "usdt");
  }

  function setBusy(busy) {
    var button = $("claim-submit");
    button.disabled = busy;
    button.textContent = t(busy ? "claim_checking" : "claim_button");
  }

  function onClaim(event) {
    event.preventDefault();
    var hash = $("claim-hash").value.trim();
    if (!hash) {
      var texts = st.claimTexts ? st.claimTexts() : null;
      st.claimMsg = texts ? texts.empty : T.both("claim_empty");
      renderClaim();
      return;
    }
    st.claimMsg = null;
    renderClaim();
    setBusy(true);
    ctx.api("POST", "/api/cashier/paid", { orderId: ctx.orderId(), hash: hash })
      .then(function (json) {
        setBusy(false);
        if (json.status === 1 || json.status === "1") ctx.markPaid(json.return_url);
        else ctx.poll();
      })
      .catch(function (err) {
        setBusy(false);
        st.claimMsg = err.text || err.message;
        renderClaim();
      });
  }

  function attach(context) {
    ctx = context;
    $("claim-form").addEventListener("submit", onClaim);
    T.onChange(function () {
      render();
      setBusy($("claim-submit").disabled);
    });
  }

  function claimTexts(source) {
    st.claimTexts = source;
    renderClaimTexts();
  }

  window.CashierPayment = { attach: attach, update: update, phaseChanged: phaseChanged, claimTexts: claimTexts };
})();
