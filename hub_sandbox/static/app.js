/* PayShack merchant dashboard (sandbox): login page and transaction tables.
 * Plain browser JavaScript, no build step. Times are shown in IST (UTC+05:30), amounts in
 * rupees with Indian digit grouping. */
(function () {
  "use strict";

  var API = {
    login: "/indigate-user-svc/api/v1/auth/login",
    payin: "/indigate-payin-svc/api/v1/payin/transaction/fetch",
    payout: "/indigate-payout-svc/api/v1/wallet/transactions"
  };
  var KEY_TOKEN = "ps_token";
  var KEY_CLIENT = "ps_client_id";
  var KEY_NAME = "ps_user_name";
  var IST_OFFSET_MS = 330 * 60 * 1000;
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  /* ---------------------------------------------------------------- formatting */

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function groupIndian(digits) {
    if (digits.length <= 3) { return digits; }
    var last3 = digits.slice(-3);
    var rest = digits.slice(0, -3);
    var parts = [];
    while (rest.length > 2) { parts.unshift(rest.slice(-2)); rest = rest.slice(0, -2); }
    if (rest) { parts.unshift(rest); }
    return parts.join(",") + "," + last3;
  }

  /* Split an amount (JSON number or decimal string) into sign, integer digits and fraction. */
  function splitAmount(value) {
    var text = typeof value === "number" ? String(value) : String(value).trim();
    if (!/^-?\d+(\.\d+)?$/.test(text)) { return null; }
    var negative = text.charAt(0) === "-";
    if (negative) { text = text.slice(1); }
    var dot = text.indexOf(".");
    var whole = dot < 0 ? text : text.slice(0, dot);
    var frac = dot < 0 ? "" : text.slice(dot + 1);
    whole = whole.replace(/^0+(?=\d)/, "");
    return { negative: negative, whole: whole, frac: frac };
  }

  /* style "compact": ₹100 for whole amounts, else ₹1,23,456.78
   * style "spaced":  ₹ 2,500.00 (always at least two decimals)
   * style "plain":   ₹1,234.50 (always at least two decimals) */
  function formatINR(value, style) {
    if (value === null || value === undefined || value === "") { return "-"; }
    var parts = splitAmount(value);
    if (!parts) { return String(value); }
    var frac = parts.frac.replace(/0+$/, "");
    if (style !== "compact" || frac) { while (frac.length < 2) { frac += "0"; } }
    var text = groupIndian(parts.whole) + (frac ? "." + frac : "");
    var sign = parts.negative ? "-" : "";
    return style === "spaced" ? sign + "₹ " + text : sign + "₹" + text;
  }

  function istParts(iso) {
    var ms = Date.parse(iso);
    if (isNaN(ms)) { return null; }
    var d = new Date(ms + IST_OFFSET_MS);
    return {
      year: d.getUTCFullYear(), month: d.getUTCMonth(), day: d.getUTCDate(),
      hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds()
    };
  }

  /* 15 Jan 2026, 09:16:46 PM */
  function formatCreated(iso) {
    if (!iso) { return "-"; }
    var p = istParts(iso);
    if (!p) { return String(iso); }
    var h12 = p.hour % 12 === 0 ? 12 : p.hour % 12;
    return pad(p.day) + " " + MONTHS[p.month] + " " + p.year + ", " + pad(h12) + ":" +
      pad(p.minute) + ":" + pad(p.second) + " " + (p.hour < 12 ? "AM" : "PM");
  }

  /* 15/01/2026 21:16:46 */
  function formatModified(iso) {
    if (!iso) { return "-"; }
    var p = istParts(iso);
    if (!p) { return String(iso); }
    return pad(p.day) + "/" + pad(p.month + 1) + "/" + p.year + " " + pad(p.hour) + ":" +
      pad(p.minute) + ":" + pad(p.second);
  }

  function text(value) {
    return value === null || value === undefined || value === "" ? "-" : String(value);
  }

  function statusBadge(value) {
    var lower = String(value || "").toLowerCase();
    var cls = "badge";
    if (lower === "success") { cls += " badge-success"; }
    else if (lower === "failed" || lower === "tampered" || lower === "expired") { cls += " badge-failed"; }
    else if (lower === "refunded" || lower === "cb_refunded") { cls += " badge-refunded"; }
    else if (lower) { cls += " badge-pending"; }
    var span = document.createElement("span");
    span.className = cls;
    span.textContent = text(value);
    return span;
  }

  /* ---------------------------------------------------------------- columns */

  function col(header, field, render, numeric) {
    return { header: header, field: field, render: render || text, numeric: !!numeric };
  }

  var COMMON_HEAD = [
    col("Order ID", "orderId"),
    col("Transaction ID", "txnId"),
    col("SP Txn ID", "spTxnId"),
    col("UTR", "utr")
  ];
  var COMMON_TAIL = [
    col("Status", "txnStatus", statusBadge),
    col("Client", "clientName"),
    col("Client ID", "clientId"),
    col("Type", "transactionType"),
    col("Payer VPA", "payerVpa"),
    col("UPI ID", "upiId")
  ];
  var TIMES = [
    col("Created", "createdAt", formatCreated),
    col("Updated", "modifiedAt", formatModified)
  ];
  function money(style) { return function (v) { return formatINR(v, style); }; }

  var COLUMNS = {
    payin: COMMON_HEAD.concat([
      col("Amount", "amount", money("compact"), true),
      col("Paid Amount", "paidAmount", money("spaced"), true),
      col("Commission", "totalCommissionAmount", money("plain"), true)
    ], COMMON_TAIL, TIMES),
    payout: COMMON_HEAD.concat([
      col("Amount", "amount", money("compact"), true),
      col("Paid Amount", "paidAmount", money("spaced"), true),
      col("Commission", "totalCommissionAmount", money("plain"), true),
      col("Charges", "txnCharges", money("plain"), true),
      col("Net Amount", "netAmount", money("spaced"), true)
    ], COMMON_TAIL, [
      col("Bene Name", "beneName"),
      col("Bene Account", "beneAccount"),
      col("Bene IFSC", "beneIfsc")
    ], TIMES)
  };

  /* ---------------------------------------------------------------- helpers */

  function $(id) { return document.getElementById(id); }

  function showAlert(container, kind, message) {
    container.innerHTML = "";
    var div = document.createElement("div");
    div.className = "alert alert-" + kind;
    div.setAttribute("role", "alert");
    div.textContent = message;
    container.appendChild(div);
  }

  function readJson(response) {
    return response.text().then(function (body) {
      try { return JSON.parse(body); } catch (e) { return null; }
    });
  }

  /* ---------------------------------------------------------------- login page */

  function initLogin() {
    var form = $("login-form");
    var messages = $("login-messages");
    var params = new URLSearchParams(window.location.search);
    if (params.get("expired") === "1") {
      showAlert(messages, "warning", "Session expired, please log in again");
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = $("login-button");
      var email = form.elements.email.value.trim();
      var password = form.elements.password.value;
      if (!email || !password) {
        showAlert(messages, "error", "Please enter your email and password");
        return;
      }
      button.disabled = true;
      button.textContent = "Signing in…";
      fetch(API.login, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify({ email: email, password: password })
      }).then(function (response) {
        return readJson(response).then(function (body) {
          if (response.ok && body && body.success && body.data && body.data.token) {
            sessionStorage.setItem(KEY_TOKEN, body.data.token);
            sessionStorage.setItem(KEY_CLIENT, body.data.clientId || "");
            sessionStorage.setItem(KEY_NAME, body.data.name || body.data.email || "");
            window.location.assign("/dashboard#payin");
            return;
          }
          var message = body && body.message ? body.message :
            "Something went wrong (HTTP " + response.status + "). Please try again.";
          showAlert(messages, "error", message);
          button.disabled = false;
          button.textContent = "Login";
        });
      }).catch(function () {
        showAlert(messages, "error", "Network error, please try again");
        button.disabled = false;
        button.textContent = "Login";
      });
    });
  }

  /* ---------------------------------------------------------------- dashboard */

  function initDashboard() {
    var token = sessionStorage.getItem(KEY_TOKEN);
    if (!token) { window.location.replace("/login"); return; }
    $("merchant-name").textContent = sessionStorage.getItem(KEY_NAME) || "";

    var state = { view: "payin", page: 1, limit: 10, totalPages: 0, seq: 0 };
    var table = $("txn-table");
    var alertBox = $("table-alert");

    function filters() {
      return {
        dateFrom: $("date-from").value,
        dateTo: $("date-to").value,
        status: $("status-filter").value
      };
    }

    function expired() {
      sessionStorage.removeItem(KEY_TOKEN);
      sessionStorage.removeItem(KEY_CLIENT);
      window.location.replace("/login?expired=1");
    }

    function renderHead() {
      var row = table.tHead.rows[0];
      row.innerHTML = "";
      COLUMNS[state.view].forEach(function (c) {
        var th = document.createElement("th");
        th.textContent = c.header;
        th.setAttribute("data-col", c.field);
        row.appendChild(th);
      });
    }

    function renderRows(rows) {
      var body = table.tBodies[0];
      var columns = COLUMNS[state.view];
      var fragment = document.createDocumentFragment();
      rows.forEach(function (r) {
        var tr = document.createElement("tr");
        tr.setAttribute("data-txn-id", r.txnId);
        columns.forEach(function (c) {
          var td = document.createElement("td");
          td.setAttribute("data-col", c.field);
          if (c.numeric) { td.className = "num"; }
          var value = c.render(r[c.field]);
          if (typeof value === "string") { td.textContent = value; } else { td.appendChild(value); }
          tr.appendChild(td);
        });
        fragment.appendChild(tr);
      });
      body.innerHTML = "";
      if (!rows.length) {
        var tr = document.createElement("tr");
        var td = document.createElement("td");
        td.colSpan = columns.length;
        td.className = "empty";
        td.textContent = "No transactions found";
        tr.appendChild(td);
        fragment.appendChild(tr);
      }
      body.appendChild(fragment);
    }

    function setLoading(loading) {
      table.setAttribute("data-state", loading ? "loading" : "loaded");
      $("loading").hidden = !loading;
      $("prev-page").disabled = loading || state.page <= 1;
      $("next-page").disabled = loading || state.page >= state.totalPages;
    }

    function load() {
      var seq = ++state.seq;
      setLoading(true);
      alertBox.innerHTML = "";
      var f = filters();
      var params = new URLSearchParams({ page: String(state.page), limit: String(state.limit) });
      if (f.dateFrom) { params.set("dateFrom", f.dateFrom); }
      if (f.dateTo) { params.set("dateTo", f.dateTo); }
      if (f.status) { params.set("status", f.status); }
      // the URL reflects the view (deep link; replaceState fires no hashchange)
      history.replaceState(null, "", "#" + state.view + "?" + params.toString());
      fetch(API[state.view] + "?" + params.toString(), {
        headers: {
          "Accept": "application/json",
          "Authorization": "Bearer " + token,
          "reseller-id": sessionStorage.getItem(KEY_CLIENT) || ""
        }
      }).then(function (response) {
        if (response.status === 401) { expired(); return null; }
        return readJson(response).then(function (body) {
          if (seq !== state.seq) { return; }
          if (!response.ok || !body || !body.success) {
            var message = body && body.message ? body.message :
              "Could not load transactions (HTTP " + response.status + ")";
            showAlert(alertBox, "error", message);
            table.setAttribute("data-state", "error");
            $("loading").hidden = true;
            $("prev-page").disabled = state.page <= 1;
            $("next-page").disabled = state.page >= state.totalPages;
            return;
          }
          var data = body.data;
          state.totalPages = data.totalPages || 0;
          renderRows(data.transactions || []);
          $("page-info").textContent = "Page " + data.currentPageNo + " of " + Math.max(1, state.totalPages);
          $("total-records").textContent = "Total records: " + data.totalRecords;
          table.setAttribute("data-page", String(data.currentPageNo));
          table.setAttribute("data-total", String(data.totalRecords));
          table.setAttribute("data-total-pages", String(state.totalPages));
          setLoading(false);
        });
      }).catch(function () {
        if (seq !== state.seq) { return; }
        showAlert(alertBox, "error", "Network error, please retry");
        table.setAttribute("data-state", "error");
        $("loading").hidden = true;
      });
    }

    /* #payin or #payout, optionally followed by ?page=&limit=&dateFrom=&dateTo=&status= */
    function switchView() {
      var hash = window.location.hash.replace(/^#/, "");
      var cut = hash.indexOf("?");
      var view = (cut < 0 ? hash : hash.slice(0, cut)) === "payout" ? "payout" : "payin";
      var link = new URLSearchParams(cut < 0 ? "" : hash.slice(cut + 1));
      if (link.has("dateFrom")) { $("date-from").value = link.get("dateFrom"); }
      if (link.has("dateTo")) { $("date-to").value = link.get("dateTo"); }
      if (link.has("status")) { $("status-filter").value = link.get("status").toUpperCase(); }
      if (["10", "25", "50", "100"].indexOf(link.get("limit")) >= 0) {
        $("page-size").value = link.get("limit");
        state.limit = parseInt(link.get("limit"), 10);
      }
      state.view = view;
      state.page = Math.max(1, parseInt(link.get("page") || "1", 10) || 1);
      table.setAttribute("data-view", view);
      $("view-title").textContent = view === "payout" ? "Pay-Out Transactions" : "Pay-In Transactions";
      ["payin", "payout"].forEach(function (v) {
        $("tab-" + v).classList.toggle("active", v === view);
      });
      renderHead();
      load();
    }

    $("filter-form").addEventListener("submit", function (event) {
      event.preventDefault();
      state.page = 1;
      load();
    });
    $("reset-filters").addEventListener("click", function () {
      $("date-from").value = "";
      $("date-to").value = "";
      $("status-filter").value = "";
      state.page = 1;
      load();
    });
    $("page-size").addEventListener("change", function () {
      state.limit = parseInt($("page-size").value, 10) || 10;
      state.page = 1;
      load();
    });
    $("prev-page").addEventListener("click", function () {
      if (state.page > 1) { state.page -= 1; load(); }
    });
    $("next-page").addEventListener("click", function () {
      if (state.page < state.totalPages) { state.page += 1; load(); }
    });
    $("logout-button").addEventListener("click", function () {
      sessionStorage.clear();
      window.location.replace("/login");
    });
    window.addEventListener("hashchange", switchView);
    state.limit = parseInt($("page-size").value, 10) || 10;
    switchView();
  }

  window.PayShack = { formatINR: formatINR, formatCreated: formatCreated, formatModified: formatModified };
  var page = document.body.getAttribute("data-page");
  if (page === "login") { initLogin(); } else if (page === "dashboard") { initDashboard(); }
})();
