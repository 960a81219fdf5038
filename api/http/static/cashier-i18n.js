/* The cashier page's texts in Chinese and English, and the language switch.
 *
 * The server picks the first language from Accept-Language (the <html lang>
 * it sends); a payer who uses the switch keeps the choice (localStorage).
 * Elements with data-i18n="key" get their text from here; data-i18n-aria,
 * data-i18n-title and data-i18n-placeholder set those attributes. Chinese
 * texts use Chinese punctuation. Loaded before cashier.js, which calls
 * CashierText.t(key, values) for everything it writes.
 */
(function () {
  "use strict";

  var TEXTS = {
    zh: {
      page_title: "收银台",
      title: "收银台",
      lang_switch: "English",
      lang_switch_aria: "Switch to English",
      payee: "收款方",
      time_left: "剩余支付时间",
      order_no: "订单号",
      order_fallback: "订单",
      loading: "正在加载订单……",
      load_failed: "无法加载订单",
      retry: "重试",
      choose: "选择支付方式",
      alipay: "支付宝",
      wxpay: "微信支付",
      tron_sub: "波场 TRON",
      eth_sub: "以太坊 Ethereum",
      usdt_title: "USDT 转账",
      network: "网络",
      address: "收款地址",
      amount: "转账金额",
      copy: "复制",
      copied: "已复制",
      copy_by_hand: "请手动复制",
      copy_address_aria: "复制收款地址",
      copy_amount_aria: "复制转账金额",
      qr_group: "二维码内容",
      qr_address: "地址",
      qr_amount: "金额",
      qr_caption_address: "用钱包扫码得到收款地址",
      qr_caption_amount: "扫码得到转账金额",
      qr_alt_address: "收款地址二维码:{text}",
      qr_alt_amount: "转账金额二维码:{text}",
      warn_exact: "请转账精确金额 {amount} USDT",
      warn_not: ",不是 {short}",
      warn_more: "金额不符将无法自动匹配本订单。网络手续费另付。",
      network_hint: "仅支持 {chain} 网络的 USDT,其他币种或其他网络的转账将无法到账。",
      chain_tron: "TRON(TRC20)",
      chain_eth: "以太坊(ERC20)",
      ex_title: "在{name} 站内转账",
      ex_platform: "交易所",
      ex_internal: "站内转账",
      ex_to: "收款方",
      ex_copy_to_aria: "复制收款方",
      ex_warn_more: "金额不符将无法自动匹配本订单。站内转账免手续费,对方收到的就是您填写的金额。",
      ex_steps: "操作步骤",
      ex_note: "这是{name} 账户之间的转账,不经过区块链。转账完成后本页会自动更新。",
      ex_claim_help: "填写{name} 转账记录中的{ref},我们会立即向{name} 核对。",
      ex_claim_empty: "请先填写{ref}。",
      back: "← 更换支付方式",
      paid: "支付成功",
      thanks: "感谢您的付款。",
      returning: "支付成功,即将返回商户……",
      back_to_merchant: "返回商户",
      expired: "订单已过期",
      expired_note: "请勿再向该订单付款。如您已付款,请在下方核对交易,或联系商户并提供订单号。",
      confirming: "已收到付款,正在确认({n} / {needed})",
      confirming_unknown: "已收到付款,正在确认",
      eta: "预计还需约 {time}。",
      eta_soon: "即将完成。",
      minutes: "{n} 分钟",
      seconds: "{n} 秒",
      confirm_note: "您的转账已被区块链收录,达到足够的区块确认后即完成支付,随后自动返回商户。请勿重复付款。",
      confirm_tx: "交易哈希",
      confirm_amount: "金额",
      reorg: "之前看到的转账已不在链上(区块重组或交易被丢弃)。请在钱包中查看交易状态;如已失败,请重新付款。",
      near_underpaid: "收到的金额不足",
      near_overpaid: "收到的金额多于订单金额",
      near_body: "向本订单收款地址的一笔转账金额为 {sent} USDT,本订单需要 {needed} USDT,因此无法自动完成支付。",
      near_confirming: "(该转账仍在确认中。)",
      near_underpaid_todo: "请不要补转差额(补转的金额无法匹配订单)。请联系商户并提供交易哈希 {tx}。",
      near_overpaid_todo: "多付的金额不会自动退回。请联系商户并提供交易哈希 {tx},商户可为您入账或退款。",
      claim_summary: "我已付款,但页面没有变化?",
      claim_help: "粘贴钱包或区块浏览器中显示的交易哈希(TxID),我们会立即在链上核对。",
      claim_label: "交易哈希",
      claim_placeholder: "0x…… 或 64 位十六进制字符",
      claim_button: "核对付款",
      claim_checking: "正在核对……",
      claim_empty: "请先粘贴交易哈希。",
      fiat_title: "{name}支付",
      fiat_open: "打开{name}",
      fiat_not_opened: "如未自动跳转,请点击上方按钮。",
      fiat_go: "前往支付",
      fiat_none: "支付渠道未返回支付方式,请更换支付方式。",
      fiat_qr_mobile: "请截图或长按二维码,然后用{name}扫一扫。",
      fiat_qr: "请使用{name}扫一扫。",
      fiat_updates: "支付完成后本页会自动更新。",
      fiat_web: "在网页中支付",
      fiat_qr_alt: "{name}支付二维码",
      wallet_alipay: "支付宝",
      wallet_wxpay: "微信",
      start_failed: "获取支付参数失败:{msg}",
      no_order_id: "链接中缺少有效的订单号(orderId)。请回到商户页面重新下单。",
      no_address: "服务器未返回收款地址或金额。",
      bad_answer: "服务器返回了无法识别的内容(HTTP {status})。",
      network_error: "网络连接失败,请检查网络后重试。"
    },
    en: {
      page_title: "Cashier",
      title: "Cashier",
      lang_switch: "中文",
      lang_switch_aria: "切换到中文",
      payee: "Paying",
      time_left: "Time left",
      order_no: "Order",
      order_fallback: "Order",
      loading: "Loading the order…",
      load_failed: "The order could not be loaded",
      retry: "Retry",
      choose: "Choose how to pay",
      alipay: "Alipay",
      wxpay: "WeChat Pay",
      tron_sub: "TRON",
      eth_sub: "Ethereum",
      usdt_title: "Pay with USDT",
      network: "Network",
      address: "Address",
      amount: "Exact amount",
      copy: "Copy",
      copied: "Copied",
      copy_by_hand: "Copy by hand",
      copy_address_aria: "Copy the address",
      copy_amount_aria: "Copy the amount",
      qr_group: "QR code content",
      qr_address: "Address",
      qr_amount: "Amount",
      qr_caption_address: "Scan with your wallet for the address",
      qr_caption_amount: "Scan for the amount",
      qr_alt_address: "QR code of the address {text}",
      qr_alt_amount: "QR code of the amount {text}",
      warn_exact: "Pay exactly {amount} USDT",
      warn_not: ", not {short}",
      warn_more: "Any other amount cannot be matched to this order. Network fees are paid on top.",
      network_hint: "Send USDT on {chain} only; other tokens or networks will be lost.",
      chain_tron: "TRON (TRC20)",
      chain_eth: "Ethereum (ERC20)",
      ex_title: "Pay by internal transfer at {name}",
      ex_platform: "Exchange",
      ex_internal: "internal transfer",
      ex_to: "Recipient",
      ex_copy_to_aria: "Copy the recipient",
      ex_warn_more: "Any other amount cannot be matched to this order. Internal transfers are free: the recipient gets exactly what you enter.",
      ex_steps: "How to pay",
      ex_note: "This is a transfer between {name} accounts, not on a blockchain. This page updates by itself once it is done.",
      ex_claim_help: "Enter the {ref} from the transfer's record at {name}; we check it with {name} at once.",
      ex_claim_empty: "Enter the {ref} first.",
      back: "← Change method",
      paid: "Paid",
      thanks: "Thank you for your payment.",
      returning: "Paid — returning to the merchant…",
      back_to_merchant: "Back to the merchant",
      expired: "Expired",
      expired_note: "Do not pay this order any more. If you have already paid, check your transaction below or contact the merchant with the order number.",
      confirming: "Payment received, confirming ({n} / {needed})",
      confirming_unknown: "Payment received, confirming",
      eta: "About {time} left.",
      eta_soon: "Almost there.",
      minutes: "{n} min",
      seconds: "{n} s",
      confirm_note: "Your transfer is on the chain. It is final after enough blocks; the page then turns to paid and returns to the merchant. Do not pay again.",
      confirm_tx: "Transaction",
      confirm_amount: "Amount",
      reorg: "The transfer seen earlier is no longer on the chain (a reorganisation, or the transaction was dropped). Check it in your wallet; if it failed, pay again.",
      near_underpaid: "Less than the order needs",
      near_overpaid: "More than the order needs",
      near_body: "A transfer to this order's address sent {sent} USDT; the order needs {needed} USDT, so it cannot be paid automatically.",
      near_confirming: "(That transfer is still confirming.)",
      near_underpaid_todo: "Do not send the difference (a second transfer cannot be matched to the order). Contact the merchant with the transaction hash {tx}.",
      near_overpaid_todo: "The extra is not returned by itself. Contact the merchant with the transaction hash {tx}, who can credit the order or refund you.",
      claim_summary: "I have paid, but nothing happened?",
      claim_help: "Paste the transaction hash (TxID) your wallet or a block explorer shows; we check it on chain at once.",
      claim_label: "Transaction hash",
      claim_placeholder: "0x… or 64 hexadecimal characters",
      claim_button: "Check my payment",
      claim_checking: "Checking…",
      claim_empty: "Paste the transaction hash first.",
      fiat_title: "Pay with {name}",
      fiat_open: "Open {name}",
      fiat_not_opened: "If the app did not open, tap the button.",
      fiat_go: "Go to payment",
      fiat_none: "The channel gave no way to pay; choose another method.",
      fiat_qr_mobile: "Save or long-press the code, then scan it with {name}.",
      fiat_qr: "Scan with {name}.",
      fiat_updates: "This page updates by itself once you have paid.",
      fiat_web: "Pay in the browser",
      fiat_qr_alt: "{name} QR code",
      wallet_alipay: "Alipay",
      wallet_wxpay: "WeChat",
      start_failed: "Could not start the payment: {msg}",
      no_order_id: "The link has no valid orderId; go back to the shop and start again.",
      no_address: "The server gave no address or amount.",
      bad_answer: "Unexpected server answer (HTTP {status}).",
      network_error: "The network failed; check your connection and try again."
    }
  };

  var STORE_KEY = "usdtpay.cashier.lang";
  var listeners = [];

  function stored() {
    try { return window.localStorage.getItem(STORE_KEY) || ""; } catch (e) { return ""; }
  }

  function initial() {
    var chosen = stored();
    if (chosen === "zh" || chosen === "en") return chosen;
    return /^en\b/i.test(document.documentElement.lang || "") ? "en" : "zh";
  }

  var lang = initial();

  function t(key, values, inLang) {
    var text = (TEXTS[inLang || lang] && TEXTS[inLang || lang][key]) || TEXTS.zh[key] || key;
    return text.replace(/\{(\w+)\}/g, function (_, name) {
      return values && values[name] !== undefined && values[name] !== null ? String(values[name]) : "";
    });
  }

  // A page text in both languages, to keep and show in either later.
  function both(key, values) { return { zh: t(key, values, "zh"), en: t(key, values, "en") }; }

  // A server message carried in both languages ({zh, en}) or plain text.
  function pick(message) {
    if (!message) return "";
    if (typeof message === "string") return message;
    return (lang === "en" ? message.en : message.zh) || message.en || message.zh || "";
  }

  function applyStatic(root) {
    var scope = root || document;
    Array.prototype.forEach.call(scope.querySelectorAll("[data-i18n]"), function (el) {
      el.textContent = t(el.getAttribute("data-i18n"));
    });
    [["data-i18n-aria", "aria-label"], ["data-i18n-title", "title"], ["data-i18n-placeholder", "placeholder"]]
      .forEach(function (pair) {
        Array.prototype.forEach.call(scope.querySelectorAll("[" + pair[0] + "]"), function (el) {
          el.setAttribute(pair[1], t(el.getAttribute(pair[0])));
        });
      });
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    document.title = t("page_title") + " · usdtpay";
  }

  function setLang(next) {
    if (next !== "zh" && next !== "en") return;
    lang = next;
    try { window.localStorage.setItem(STORE_KEY, next); } catch (e) { /* private mode: this page only */ }
    applyStatic();
    listeners.forEach(function (fn) { fn(lang); });
  }

  window.CashierText = {
    t: t,
    both: both,
    pick: pick,
    lang: function () { return lang; },
    setLang: setLang,
    toggle: function () { setLang(lang === "zh" ? "en" : "zh"); },
    applyStatic: applyStatic,
    onChange: function (fn) { listeners.push(fn); }
  };
})();
