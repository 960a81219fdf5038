/* The on-chain USDT view of the cashier page (TRC20 / ERC20): the network,
 * the address in groups of four, the exact amount with its warning, and a
 * QR code of the address or of the amount. cashier.js decides when to show
 * it (show) and redraws it on a language switch (render).
 */
(function () {
  "use strict";

  var C = window.CashierCore;
  var T = window.CashierText;
  var t = T.t;
  var $ = C.$;
  var GROUP = 4; // address characters per group

  var CHAINS = {
    tron: { label: "TRC20", name: "chain_tron", network: "tron_sub", type: "usdt_trc20" },
    eth: { label: "ERC20", name: "chain_eth", network: "eth_sub", type: "usdt_erc20" }
  };

  var st = { details: null, qr: "address" };

  function chainKey(value) {
    var v = String(value || "").toLowerCase();
    if (v === "tron" || v === "trc20" || v === "usdt_trc20" || v === "trx") return "tron";
    if (v === "eth" || v === "erc20" || v === "usdt_erc20" || v === "ethereum") return "eth";
    return "";
  }

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

  function selectQr(which) {
    var details = st.details;
    if (!details) return;
    st.qr = which;
    var tabs = document.querySelectorAll(".qr-tab");
    Array.prototype.forEach.call(tabs, function (tab) {
      tab.setAttribute("aria-pressed", tab.getAttribute("data-qr") === which ? "true" : "false");
    });
    var text = which === "amount" ? details.amount : details.address;
    var img = $("usdt-qr");
    var src = C.qrSrc(text);
    if (img.getAttribute("src") !== src) img.src = src;
    img.alt = t(which === "amount" ? "qr_alt_amount" : "qr_alt_address", { text: text });
    $("usdt-qr-caption").textContent = t(which === "amount" ? "qr_caption_amount" : "qr_caption_address");
  }

  function render() {
    var details = st.details;
    if (!details) return;
    var chain = CHAINS[details.chain];
    $("usdt-chain").textContent = chain.label;
    $("usdt-chain-name").textContent = t(chain.network);
    C.exactWarning("usdt-warning", details.amount, "warn_more");
    $("usdt-network-hint").textContent = t("network_hint", { chain: t(chain.name) });
    selectQr(st.qr);
  }

  function show(details) {
    st.details = details;
    st.qr = "address";
    showAddress(details.address);
    C.showAmount("usdt-amount", details.amount);
    render();
  }

  // The transfer details in an answer, or null when it has none for a chain.
  function from(data, fallbackChain) {
    var address = C.firstText(data.address, data.u_addr, data.usdt_address);
    var amount = C.firstText(data.amount, data.usdt_amount, data.u_amount);
    var chain = chainKey(C.firstText(data.chain, data.u_type, data.usdt_chain)) || fallbackChain || "";
    if (!address || !/^\d+(\.\d+)?$/.test(amount) || !CHAINS[chain]) return null;
    return { address: address, amount: amount, chain: chain };
  }

  function wire() {
    Array.prototype.forEach.call(document.querySelectorAll(".qr-tab"), function (button) {
      button.addEventListener("click", function () { selectQr(button.getAttribute("data-qr")); });
    });
  }

  window.CashierChain = {
    chainKey: chainKey,
    from: from,
    show: show,
    render: render,
    wire: wire,
    current: function () { return st.details; },
    clear: function () { st.details = null; }
  };
})();
