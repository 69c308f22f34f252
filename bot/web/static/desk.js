// The agent desk: the queue and the ticket view, kept fresh by polling the desk's JSON every 2 seconds.
// Everything a shopper (or an agent) wrote is put into the page with textContent, never as HTML.
(function () {
  "use strict";

  var POLL_MS = 2000;
  var script = document.currentScript;
  var page = script && script.getAttribute("data-page");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = csrf;
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    return fetch(path, options).then(function (answer) {
      if (answer.status === 401) {  // the session ended (signed out elsewhere, expired)
        window.location.assign("/desk/sign-in?next=" + encodeURIComponent(window.location.pathname));
        return new Promise(function () {});
      }
      return answer.json().catch(function () { return {}; }).then(function (data) {
        return { ok: answer.ok, status: answer.status, data: data };
      });
    });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
  }

  function showError(message) {
    var box = document.getElementById("desk-error");
    if (!box) { return; }
    box.textContent = message || "";
    box.hidden = !message;
  }

  function waited(seconds) {
    if (seconds === null || seconds === undefined) { return ""; }
    if (seconds < 60) { return seconds + " s"; }
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) { return minutes + " min"; }
    var hours = Math.floor(minutes / 60);
    return hours + " h " + (minutes % 60) + " min";
  }

  function clock(epoch) {
    if (!epoch) { return ""; }
    return new Date(epoch * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function poll(refresh) {
    var busy = false;
    function tick() {
      if (busy) { return; }
      busy = true;
      refresh().catch(function () {
        showError("The desk cannot reach the server; retrying.");
      }).then(function () { busy = false; });
    }
    tick();
    window.setInterval(tick, POLL_MS);
    return tick;
  }

  // --- the queue -------------------------------------------------------------------------------------------

  function claim(id) {
    return api("POST", "/desk/api/tickets/" + id + "/claim").then(function (result) {
      if (result.ok) {
        window.location.assign("/desk/tickets/" + id);
      } else {
        showError(result.data.error || "Could not claim the ticket.");
      }
    });
  }

  function queueRow(ticket) {
    var row = el("tr");
    row.setAttribute("data-ticket-id", ticket.id);
    row.appendChild(el("td", "num", ticket.position));
    row.appendChild(el("td", "wait", waited(ticket.waiting_seconds)));
    var shopper = el("td", "shopper");
    shopper.appendChild(el("strong", "shopper-name", ticket.shopper_name || "Unknown shopper"));
    if (ticket.preview) { shopper.appendChild(el("span", "preview muted", "“" + ticket.preview + "”")); }
    row.appendChild(shopper);
    row.appendChild(el("td", "language", ticket.language_name || "?"));
    row.appendChild(el("td", "problem", ticket.problem_name || "not said"));
    row.appendChild(el("td", "order", ticket.order_number || "not verified"));
    row.appendChild(el("td", "channel", ticket.channel_name));
    var why = el("td", "reason", ticket.reason_name);
    (ticket.priority || []).forEach(function (label) {
      why.appendChild(document.createTextNode(" "));
      why.appendChild(el("span", "pill urgent", label));
    });
    row.appendChild(why);
    if (ticket.priority && ticket.priority.length) { row.className = "urgent-row"; }
    var actions = el("td", "actions");
    var open = el("a", "button-link", "Open");
    open.href = "/desk/tickets/" + ticket.id;
    var take = el("button", "primary", "Claim");
    take.type = "button";
    take.addEventListener("click", function () { claim(ticket.id); });
    actions.appendChild(open);
    actions.appendChild(take);
    row.appendChild(actions);
    return row;
  }

  var STATES = { waiting: "waiting", claimed: "claimed", handed_back: "handed back", resolved: "resolved" };

  function ticketItem(ticket, withAgent, withStatus) {
    var item = el("li");
    item.setAttribute("data-ticket-id", ticket.id);
    var link = el("a", null, "Ticket " + ticket.id);
    link.href = "/desk/tickets/" + ticket.id;
    item.appendChild(link);
    var parts = [ticket.language_name, ticket.problem_name || "not said", ticket.order_number, ticket.channel_name];
    if (withStatus) { parts.unshift(STATES[ticket.status] || ticket.status); }
    if (ticket.unread) {
      item.className = "unread";
      item.appendChild(document.createTextNode(" "));
      item.appendChild(el("span", "pill urgent", "new message"));
    }
    if (withAgent && ticket.agent) { parts.push("with " + ticket.agent); }
    item.appendChild(el("span", "muted", " · " + parts.filter(Boolean).join(" · ")));
    return item;
  }

  function fillList(id, tickets, withAgent, withStatus) {
    var list = document.getElementById(id);
    clear(list);
    tickets.forEach(function (t) { list.appendChild(ticketItem(t, withAgent, withStatus)); });
    var empty = document.getElementById(id + "-empty");
    if (empty) { empty.hidden = tickets.length > 0; }
  }

  function startSearch() {
    var form = document.getElementById("search");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = document.getElementById("search-text").value.trim();
      if (!text) { return; }
      api("GET", "/desk/api/search?q=" + encodeURIComponent(text)).then(function (result) {
        var summary = document.getElementById("search-summary");
        document.getElementById("search-results").hidden = false;
        if (!result.ok) {
          summary.textContent = result.data.error || "The search did not work.";
          fillList("found", [], true, true);
          return;
        }
        var count = result.data.tickets.length;
        summary.textContent = count ? count + (count === 1 ? " ticket" : " tickets") + " for “" + result.data.query + "”"
          : "No ticket for “" + result.data.query + "”.";
        fillList("found", result.data.tickets, true, true);
      });
    });
  }

  // Opt-in: a browser notification when a new ticket starts waiting, for an agent working in another tab.
  var NOTIFY_KEY = "porter_desk_notify";
  var seenWaiting = null;

  function setUpNotifications() {
    var box = document.getElementById("notify");
    if (!box) { return; }
    if (!("Notification" in window)) { box.disabled = true; return; }
    box.checked = window.localStorage.getItem(NOTIFY_KEY) === "1" && Notification.permission === "granted";
    box.addEventListener("change", function () {
      if (!box.checked) { window.localStorage.removeItem(NOTIFY_KEY); return; }
      Notification.requestPermission().then(function (permission) {
        box.checked = permission === "granted";
        if (box.checked) { window.localStorage.setItem(NOTIFY_KEY, "1"); }
      });
    });
  }

  function notifyNew(waiting) {
    var ids = waiting.map(function (t) { return t.id; });
    if (seenWaiting !== null && window.localStorage.getItem(NOTIFY_KEY) === "1" &&
        "Notification" in window && Notification.permission === "granted") {
      waiting.filter(function (t) { return seenWaiting.indexOf(t.id) < 0; }).forEach(function (t) {
        new Notification("A shopper is waiting", {
          body: [t.shopper_name, t.problem_name, t.language_name].filter(Boolean).join(" · "),
          tag: "porter-ticket-" + t.id
        });
      });
    }
    seenWaiting = ids;
  }

  function startQueue() {
    setUpNotifications();
    poll(function () {
      return api("GET", "/desk/api/queue").then(function (result) {
        if (!result.ok) { showError(result.data.error || "The queue could not be read."); return; }
        showError("");
        var body = document.querySelector("#waiting tbody");
        clear(body);
        result.data.waiting.forEach(function (t) { body.appendChild(queueRow(t)); });
        document.getElementById("waiting-count").textContent = "(" + result.data.waiting.length + ")";
        notifyNew(result.data.waiting);
        // the tab says how many wait, so an agent on another tab sees a new ticket come in
        document.title = (result.data.waiting.length ? "(" + result.data.waiting.length + ") " : "") + "Queue · Porter desk";
        document.getElementById("waiting-empty").hidden = result.data.waiting.length > 0;
        document.getElementById("waiting").hidden = result.data.waiting.length === 0;
        fillList("mine", result.data.mine, false);
        fillList("others", result.data.others, true);
      }).then(function () {
        return api("GET", "/desk/api/closed").then(function (result) {
          if (result.ok) { fillList("closed", result.data.tickets, true, true); }
        });
      });
    });
    startSearch();
  }

  // --- one ticket ------------------------------------------------------------------------------------------

  var STATUS = { waiting: "waiting", claimed: "claimed", handed_back: "handed back to Porter", resolved: "resolved" };
  var WHO = { shopper: "Shopper", bot: "Porter" };

  function summaryRows(ticket) {
    return [
      ["Shopper", ticket.shopper_name || "unknown"],
      ["Goes first", ticket.priority && ticket.priority.length ? ticket.priority.join(", ") : "no: by age"],
      ["Language", ticket.language_name || "unknown"],
      ["Order", ticket.order_number ? ticket.order_number + " (verified)" : "not verified"],
      ["Problem", ticket.problem_name || "not said"],
      ["Tracking", ticket.situation_name || "not looked up"],
      ["Offered", ticket.offered.length ? ticket.offered.join(", ") : "nothing yet"],
      ["Why a person", ticket.reason_name],
      ["Case", ticket.case_reference || "none"],
      ["Channel", ticket.channel_name],
      ["Waiting since", clock(ticket.created_at) + (ticket.status === "waiting" ? " (" + waited(ticket.waiting_seconds) + ")" : "")],
      ["Agent", ticket.agent || "nobody yet"]
    ];
  }

  function renderSummary(ticket) {
    var list = document.getElementById("summary");
    clear(list);
    summaryRows(ticket).forEach(function (pair) {
      var row = el("div", "summary-row");
      row.setAttribute("data-field", pair[0]);
      row.appendChild(el("dt", null, pair[0]));
      row.appendChild(el("dd", null, pair[1]));
      list.appendChild(row);
    });
  }

  var shownTimeline = "";
  // An agent's reply is kept with its delivery state; one Rasa did not confirm can be retried, and the server
  // checks the conversation before sending it again (bot/web/desk.py, api_retry_reply).
  var DELIVERY = { sending: "sending…", sent: "sent", not_confirmed: "not confirmed as sent" };
  var retryReply = null;   // set by the ticket view
  var mayAct = false;

  function deliveryLine(item) {
    var line = el("div", "message-delivery muted", DELIVERY[item.delivery] || item.delivery);
    line.setAttribute("data-delivery", item.delivery);
    if (item.delivery === "not_confirmed" && retryReply) {
      var retry = el("button", "retry-reply", "Retry");
      retry.type = "button";
      retry.disabled = !mayAct;
      retry.addEventListener("click", function () { retryReply(item.id, retry); });
      line.appendChild(document.createTextNode(" "));
      line.appendChild(retry);
    }
    return line;
  }

  function renderTimeline(items) {
    var signature = JSON.stringify(items) + mayAct;
    if (signature === shownTimeline) { return; }
    shownTimeline = signature;
    var list = document.getElementById("timeline");
    var atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    clear(list);
    items.forEach(function (item) {
      var entry = el("li", "message " + item.kind);
      var who = item.kind === "agent" ? item.author : item.kind === "note" ? "Note · " + item.author : WHO[item.kind];
      var head = el("div", "message-head");
      head.appendChild(el("span", "message-who", who));
      head.appendChild(el("span", "message-time", clock(item.at)));
      entry.appendChild(head);
      entry.appendChild(el("div", "message-text", item.text));
      if (item.kind === "agent" && item.delivery) { entry.appendChild(deliveryLine(item)); }
      list.appendChild(entry);
    });
    if (atBottom) { list.scrollTop = list.scrollHeight; }
  }

  function renderCanned(canned) {
    var list = document.getElementById("canned");
    clear(list);
    document.getElementById("canned-language").textContent = canned.language ? "(" + canned.language + ")" : "";
    if (!canned.replies.length) {
      list.appendChild(el("li", "muted", "None for this language (canned_replies.yml)."));
    }
    canned.replies.forEach(function (reply) {
      var item = el("li");
      var use = el("button", "canned-reply", reply.title);
      use.type = "button";
      use.title = reply.text;
      use.addEventListener("click", function () {
        var box = document.getElementById("reply-text");
        box.value = reply.text;
        box.focus();
      });
      item.appendChild(use);
      item.appendChild(el("p", "canned-text", reply.text));
      list.appendChild(item);
    });
  }

  // A payment state worth an agent's eye gets a colour; the words come from the server (bot/cases.py).
  var CASE_STATES = { paid: "case-paid", failed: "case-attention", unknown: "case-attention" };

  function caseAmount(amount, currency) {
    if (amount === null || amount === undefined) { return ""; }
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: currency }).format(amount);
    } catch (error) {  // no or unknown currency code
      return amount.toFixed(2) + (currency ? " " + currency : "");
    }
  }

  function caseLine(found) {
    var type = found.type.replace(/_/g, " ");
    var amount = caseAmount(found.amount, found.currency);
    return type.charAt(0).toUpperCase() + type.slice(1) + " " + found.reference + (amount ? ", " + amount : "") +
      ": " + (found.payment || found.status.replace(/_/g, " "));
  }

  function renderCases(cases) {
    var list = document.getElementById("cases");
    clear(list);
    if (!cases.length) { list.appendChild(el("li", "muted", "None: no verified order, or nothing done for it yet.")); }
    cases.forEach(function (found) {
      var item = el("li", "case " + (CASE_STATES[found.status] || ""));
      item.setAttribute("data-reference", found.reference);
      item.appendChild(el("span", "case-line", caseLine(found)));
      item.appendChild(el("span", "case-when muted", "opened " + new Date(found.created_at * 1000).toLocaleString(
        [], { dateStyle: "medium", timeStyle: "short" }) + " by " + (found.by || "Porter")));
      list.appendChild(item);
    });
  }

  function day(epoch) {
    return new Date(epoch * 1000).toLocaleDateString([], { dateStyle: "medium" });
  }

  // The verified order beside the conversation (bot/web/desk_orders.py): what was bought, the parcel's scans.
  var shownOrder = "";
  function renderOrder(order, problem) {
    var signature = JSON.stringify([order, problem]);
    if (signature === shownOrder) { return; }
    shownOrder = signature;
    var warning = document.getElementById("order-problem");
    warning.textContent = problem || "";
    warning.hidden = !problem;
    document.getElementById("order-none").hidden = Boolean(order || problem);
    document.getElementById("order").hidden = !order;
    document.getElementById("order-number").textContent = order ? order.order_number : "";
    if (!order) { return; }
    document.getElementById("order-total").textContent = order.total;
    document.getElementById("order-meta").textContent = "placed " + day(order.placed_at) + " · " +
      order.status.replace(/_/g, " ") + (order.destination ? " · to " + order.destination : "");
    var items = document.getElementById("order-items");
    clear(items);
    order.items.forEach(function (item) {
      var row = el("li");
      row.appendChild(el("span", null, item.quantity + " × " + item.name));
      row.appendChild(el("span", "muted", item.price));
      items.appendChild(row);
    });
    var shipment = order.shipment;
    document.getElementById("order-shipment").textContent = shipment
      ? shipment.carrier + " " + shipment.service + (shipment.tracking_number ? " · " + shipment.tracking_number : "") +
        " · shipped " + day(shipment.shipped_at) + " · promised by " + shipment.promised_by
      : "Not shipped yet.";
    var scans = document.getElementById("order-scans");
    clear(scans);
    (shipment ? shipment.scans : []).forEach(function (scan) {
      scans.appendChild(el("li", null, day(scan.at) + (scan.location ? ", " + scan.location : "") + ": " +
        (scan.description || scan.status.replace(/_/g, " "))));
    });
  }

  var shownPhotos = "";
  function renderPhotos(photos) {
    var signature = JSON.stringify(photos);
    if (signature === shownPhotos) { return; }
    shownPhotos = signature;
    document.getElementById("photos-panel").hidden = photos.length === 0;
    var list = document.getElementById("photos");
    clear(list);
    photos.forEach(function (photo, index) {
      var item = el("li");
      var link = el("a");
      link.href = photo.url;
      link.target = "_blank";
      link.rel = "noopener";
      var image = el("img", "photo");
      image.src = photo.url;
      image.alt = "Photo " + (index + 1) + " from the shopper, sent " + clock(photo.at);
      link.appendChild(image);
      item.appendChild(link);
      list.appendChild(item);
    });
  }

  var shownFixes = "";
  var chooseFix = null;  // set by the ticket view
  function renderFixes(order, may) {
    var panel = document.getElementById("fixes-panel");
    panel.hidden = !order;
    var signature = JSON.stringify([order && order.fixes, may]);
    if (!order || signature === shownFixes) { return; }
    shownFixes = signature;
    var list = document.getElementById("fixes");
    clear(list);
    order.fixes.forEach(function (offer) {
      var item = el("li");
      var button = el("button", "fix", offer.label);
      button.type = "button";
      button.setAttribute("data-fix", offer.fix);
      button.disabled = !may;
      button.addEventListener("click", function () { if (chooseFix) { chooseFix(offer); } });
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  var cannedShown = "";

  function renderTicket(data) {
    var ticket = data.ticket;
    document.getElementById("status").textContent = STATUS[ticket.status] || ticket.status;
    renderSummary(ticket);
    mayAct = data.may_act;
    renderCases(data.cases);
    renderOrder(data.order, data.order_problem);
    renderPhotos(data.photos || []);
    document.getElementById("earlier-panel").hidden = !(data.earlier && data.earlier.length);
    fillList("earlier", data.earlier || [], true, true);
    renderFixes(data.order, data.may_act);
    renderTimeline(data.timeline);
    var cannedSignature = JSON.stringify(data.canned);
    if (cannedSignature !== cannedShown) { cannedShown = cannedSignature; renderCanned(data.canned); }
    var problem = document.getElementById("live-problem");
    problem.textContent = data.problem || "";
    problem.hidden = !data.problem;
    document.getElementById("claim").hidden = !data.may_claim;
    var whyNot = document.getElementById("why-not");
    whyNot.textContent = data.may_act ? "" : (data.why_not || "");
    whyNot.hidden = data.may_act || !data.why_not;
    ["send-reply", "hand-back", "resolve", "reply-text"].forEach(function (id) {
      document.getElementById(id).disabled = !data.may_act;
    });
    var admin = data.agent && data.agent.role === "admin";
    document.getElementById("pass-on").hidden = !(data.may_act && ticket.status === "claimed") &&
      !(admin && ticket.status === "waiting");
    document.getElementById("release").hidden = ticket.status !== "claimed";
    if (currentAgent !== ticket.agent) {  // the list leaves out whoever has the ticket now
      currentAgent = ticket.agent;
      fillAgents();
    }
  }

  var currentAgent;

  // The agents a ticket can go to, read once; the one who has it now is left out.
  function fillAgents() {
    return api("GET", "/desk/api/agents").then(function (result) {
      if (!result.ok) { return; }
      var select = document.getElementById("transfer-to");
      clear(select);
      result.data.agents.forEach(function (agent) {
        if (agent.name === currentAgent) { return; }
        var option = el("option", null, agent.name + (agent.role === "admin" ? " (admin)" : ""));
        option.value = agent.name;
        select.appendChild(option);
      });
    });
  }

  function startTicket() {
    var root = document.getElementById("ticket");
    var id = root.getAttribute("data-ticket-id");
    var base = "/desk/api/tickets/" + id;
    var refresh = poll(function () {
      return api("GET", base).then(function (result) {
        if (result.ok) { renderTicket(result.data); } else { showError(result.data.error || "The ticket could not be read."); }
      });
    });

    function showDone(message) {
      var box = document.getElementById("desk-done");
      box.textContent = message || "";
      box.hidden = !message;
    }

    function act(button, path, body, done, working) {
      var label = button.textContent;
      button.disabled = true;
      if (working) { button.textContent = working; }
      showError("");
      showDone("");
      return api("POST", base + path, body).then(function (result) {
        button.disabled = false;
        button.textContent = label;
        if (!result.ok) { showError(result.data.error || "That did not work."); }
        // a reply Rasa did not confirm is kept on the ticket (with Retry): it leaves the box all the same
        if (done && (result.ok || result.data.message)) { done(result.data); }
        refresh();
      });
    }

    retryReply = function (messageId, button) {
      act(button, "/replies/" + messageId + "/retry");
    };

    document.getElementById("claim").addEventListener("click", function (event) {
      act(event.currentTarget, "/claim");
    });
    document.getElementById("send-reply").addEventListener("click", function (event) {
      var box = document.getElementById("reply-text");
      if (!box.value.trim()) { showError("Write a reply first."); return; }
      act(event.currentTarget, "/reply", { text: box.value }, function () { box.value = ""; });
    });
    document.getElementById("add-note").addEventListener("click", function (event) {
      var box = document.getElementById("note-text");
      if (!box.value.trim()) { showError("Write a note first."); return; }
      act(event.currentTarget, "/notes", { text: box.value }, function () { box.value = ""; });
    });
    document.getElementById("hand-back").addEventListener("click", function (event) {
      act(event.currentTarget, "/hand-back");
    });
    // Resolving closes the ticket for good: asked once, then shown while it happens and when it is done.
    var confirmResolve = document.getElementById("resolve-confirm");
    document.getElementById("resolve").addEventListener("click", function () {
      confirmResolve.hidden = false;
      document.getElementById("resolve-yes").focus();
    });
    document.getElementById("resolve-no").addEventListener("click", function () {
      confirmResolve.hidden = true;
      document.getElementById("resolve").focus();
    });
    document.getElementById("resolve-yes").addEventListener("click", function (event) {
      act(event.currentTarget, "/resolve", {}, function () {
        confirmResolve.hidden = true;
        showDone("Resolved. The shopper is back with Porter and has been told.");
      }, "Resolving…");
    });

    document.getElementById("transfer").addEventListener("click", function (event) {
      var to = document.getElementById("transfer-to").value;
      if (!to) { showError("Choose an agent first."); return; }
      act(event.currentTarget, "/pass", { to: to }, function () {
        showDone("Transferred to " + to + ". The shopper has been told who answers now.");
      }, "Transferring…");
    });
    document.getElementById("release").addEventListener("click", function (event) {
      act(event.currentTarget, "/pass", { to: null }, function () {
        showDone("Released to the queue: it keeps its place for the next agent.");
      }, "Releasing…");
    });

    // A fix on the order: asked once with what it gives, then the case it opened (or why it was refused).
    var pendingFix = null;
    var fixConfirm = document.getElementById("fix-confirm");
    chooseFix = function (offer) {
      pendingFix = offer;
      document.getElementById("fix-question").textContent = offer.label + "?";
      fixConfirm.hidden = false;
      document.getElementById("fix-yes").focus();
    };
    document.getElementById("fix-no").addEventListener("click", function () {
      pendingFix = null;
      fixConfirm.hidden = true;
    });
    document.getElementById("fix-yes").addEventListener("click", function (event) {
      if (!pendingFix) { return; }
      act(event.currentTarget, "/fix", { fix: pendingFix.fix }, function (data) {
        fixConfirm.hidden = true;
        if (data.case) {
          showDone("Done: case " + data.case.reference + (data.case.payment ? " (" + data.case.payment + ")" : "") +
            ". The shopper has been told" + (data.delivery_problem ? ", but the message is not confirmed as sent." : "."));
        }
      }, "Working…").then(function () {
        pendingFix = null;
        fixConfirm.hidden = true;
      });
    });
    document.getElementById("reply-text").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        document.getElementById("send-reply").click();
      }
    });
  }

  if (page === "queue") { startQueue(); }
  if (page === "ticket") { startTicket(); }
})();
