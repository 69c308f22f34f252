// Starts Porter's chat widget (rasa-webchat, loaded just before this file) with what the page knows.
(function () {
  "use strict";

  var SESSION_KEY = "chat_session";        // where rasa-webchat keeps the conversation (storage "local")
  var CUSTOMER_KEY = "porter_customer";    // whose conversation that is, when a customer was signed in

  var config = JSON.parse(document.getElementById("porter-widget").textContent);
  var locale = config.locale || navigator.language || "en";
  // The widget's own labels in the shopper's language, from the server's language catalogs.
  var LABELS = config.labels || {};
  var labels = LABELS[locale.slice(0, 2).toLowerCase()] || LABELS.en || { subtitle: "", hint: "" };

  // On a shared computer, the next signed-in customer (or a signed-out visitor) must not see the last
  // customer's conversation; a visitor who signs in mid-conversation keeps it.
  var previous = window.localStorage.getItem(CUSTOMER_KEY);
  if (previous && previous !== (config.customer || "")) {
    window.localStorage.removeItem(SESSION_KEY);
  }
  if (config.customer) {
    window.localStorage.setItem(CUSTOMER_KEY, config.customer);
  } else {
    window.localStorage.removeItem(CUSTOMER_KEY);
  }

  // Sent with every message as its metadata (credentials.yml: metadata_key customData).
  var customData = { locale: locale };

  function stored() {
    try {
      return JSON.parse(window.localStorage.getItem(SESSION_KEY) || "null");
    } catch (e) {
      return null;
    }
  }

  // A signed-in customer's identity is signed by the shop's server for this very chat session, which Porter
  // issues when the widget connects (the handle the widget then keeps). So once the widget has its session,
  // ask for the identity and add it to what the widget sends with every message; again if the session changes.
  var signedFor = null;
  function signIdentity() {
    var session = stored();
    var handle = session && session.session_id;
    if (!config.customer || !handle || handle === signedFor) {
      return;
    }
    signedFor = handle;
    var request = new XMLHttpRequest();
    request.open("POST", config.sessionUrl);
    request.setRequestHeader("Content-Type", "application/json");
    request.onload = function () {
      var answer = request.status === 200 ? JSON.parse(request.responseText) : null;
      if (answer && answer.session === handle && answer.identity) {
        customData.identity = answer.identity;   // the widget sends this same object with each message
      } else {
        signedFor = null;                        // try again on the next check
      }
    };
    request.onerror = function () { signedFor = null; };
    request.send(JSON.stringify({ session: handle, customer: config.customer }));
  }

  // What the shopper sees is what the server has: the widget keeps only the messages it has shown, so a reload
  // while Porter was answering, or an agent's reply sent while the page was closed, would be missing. The
  // conversation is read back (POST /widget/history) and put where the widget keeps it before it starts.
  function restoreThenStart() {
    var session = stored();
    if (!session || !session.session_id) {
      start();
      return;
    }
    var started = false;
    function once() {
      if (!started) {
        started = true;
        start();
      }
    }
    var request = new XMLHttpRequest();
    request.open("POST", config.historyUrl);
    request.setRequestHeader("Content-Type", "application/json");
    request.timeout = 8000;
    request.onload = function () {
      var answer = null;
      try {
        answer = request.status === 200 ? JSON.parse(request.responseText) : null;
      } catch (e) {
        answer = null;
      }
      var current = stored();
      if (answer && answer.messages && current && current.session_id === session.session_id) {
        current.conversation = answer.messages;
        window.localStorage.setItem(SESSION_KEY, JSON.stringify(current));
      }
      once();
    };
    request.onerror = once;
    request.ontimeout = once;
    request.send(JSON.stringify({ session: session.session_id }));
  }

  var webchat = null;  // the widget's handle (innerRef): sends the message that carries a photo

  function start() {
    window.WebChat.default({
      innerRef: function (handle) { webchat = handle; },
      socketUrl: config.socketUrl,
      socketPath: "/socket.io/",
      customData: customData,
      initPayload: "/greet",
      title: "Porter",
      subtitle: labels.subtitle,
      inputTextFieldHint: labels.hint,
      params: { storage: config.storage },
      mainColor: "#2f5d62",            // the shop's colours (storefront.css)
      userBackgroundColor: "#2f5d62",
      userTextColor: "#ffffff",
      withRules: false,
      hideWhenNotConnected: false,
      displayUnreadCount: true,
      showMessageDate: false,
      // A short typing hint, not a pause: the widget's default waits 0.8 to 3 s per message.
      customMessageDelay: function () { return 300; }
    }, null);
  }
  // Who answers now (POST /widget/status): Porter, a person the shopper is waiting for (with their place in the
  // queue, which moves) or the agent who took the conversation. Shown in the widget's header, which rasa-webchat
  // would otherwise keep at "Porter", and told to screen readers through the page's live region.
  var talking = { title: "Porter", subtitle: labels.subtitle || "" };
  var STATUS_MS = 4000;

  function showTalking() {
    var title = document.querySelector(".rw-header .rw-title");
    var subtitle = document.querySelector(".rw-header .rw-title + span");  // rasa-webchat gives it no class
    if (title && title.textContent !== talking.title) { title.textContent = talking.title; }
    if (subtitle && subtitle.textContent !== talking.subtitle) { subtitle.textContent = talking.subtitle; }
  }

  function setTalking(next) {
    var changed = next.title !== talking.title || next.subtitle !== talking.subtitle;
    talking = next;
    showTalking();
    var live = document.getElementById("porter-chat-status");
    if (changed && live) { live.textContent = next.title + ". " + next.subtitle; }
  }

  function checkStatus() {
    var session = stored();
    if (!session || !session.session_id) { return; }
    var request = new XMLHttpRequest();
    request.open("POST", config.statusUrl);
    request.setRequestHeader("Content-Type", "application/json");
    request.onload = function () {
      var answer = null;
      try { answer = request.status === 200 ? JSON.parse(request.responseText) : null; } catch (e) { answer = null; }
      if (!answer) { return; }
      if (answer.talking === "agent" && answer.agent) {
        setTalking({ title: answer.agent, subtitle: labels.agent || "" });
      } else if (answer.talking === "waiting") {
        setTalking({
          title: labels.waiting || "",
          subtitle: answer.position ? (labels.place || "").replace("{position}", String(answer.position)) : ""
        });
      } else {
        setTalking({ title: "Porter", subtitle: labels.subtitle || "" });
      }
    };
    request.send(JSON.stringify({ session: session.session_id }));
  }

  restoreThenStart();
  checkStatus();
  window.setInterval(checkStatus, STATUS_MS);
  // What rasa-webchat leaves out for keyboard and screen-reader users, added as it draws: a labelled launcher and
  // send button, the conversation as a live log, and quick replies (plain divs) that take focus and Enter or Space.
  function label(node, text) {
    if (node && text && node.getAttribute("aria-label") !== text) { node.setAttribute("aria-label", text); }
  }

  function pressWithKeyboard(event) {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      event.currentTarget.click();
    }
  }

  // A case reference ("PC-7KQ2MX") is read out and retyped: never split across two lines at its hyphen.
  var REFERENCE = /PC-[A-Z0-9]{6}/;
  function keepReferencesWhole(root) {
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    var found = [];
    while (walker.nextNode()) {
      var node = walker.currentNode;
      if (REFERENCE.test(node.nodeValue) && !(node.parentNode.classList && node.parentNode.classList.contains("porter-ref"))) {
        found.push(node);
      }
    }
    found.forEach(function (node) {
      var parts = node.nodeValue.split(/(PC-[A-Z0-9]{6})/);
      var fragment = document.createDocumentFragment();
      parts.forEach(function (part) {
        if (REFERENCE.test(part)) {
          var span = document.createElement("span");
          span.className = "porter-ref";
          span.textContent = part;
          fragment.appendChild(span);
        } else if (part) {
          fragment.appendChild(document.createTextNode(part));
        }
      });
      node.parentNode.replaceChild(fragment, node);
    });
  }

  // Photos: rasa-webchat has no attachment button, so one is added beside Send. The photo goes to the web server
  // (POST /widget/photo, checked and kept for this chat session only), then a message "[image]" carries its token
  // to Porter in the metadata, where the action server checks again that the photo belongs to this conversation.
  var PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];

  function photoProblem(text) {
    var box = document.getElementById("porter-photo-problem");
    if (!box) { return; }
    box.textContent = text || "";
    box.hidden = !text;
  }

  function sendPhoto(file) {
    var session = stored();
    if (!file || !session || !session.session_id || !webchat) { return; }
    var megabytes = Math.floor(config.photoMaxBytes / (1024 * 1024));
    if (PHOTO_TYPES.indexOf(file.type) < 0) { photoProblem(labels.photo_type); return; }
    if (file.size > config.photoMaxBytes) { photoProblem((labels.photo_too_big || "").replace("{mb}", megabytes)); return; }
    photoProblem("");
    var form = new FormData();
    form.append("session", session.session_id);
    form.append("photo", file);
    var request = new XMLHttpRequest();
    request.open("POST", config.photoUrl);
    request.onload = function () {
      var answer = null;
      try { answer = JSON.parse(request.responseText); } catch (e) { answer = null; }
      if (request.status === 200 && answer && answer.token) {
        customData.attachments = [{ type: "image", channel: "widget", id: answer.token }];
        webchat.sendMessage("[image]", labels.photo_sent || "[image]");
        delete customData.attachments;
      } else if (request.status === 413) {
        photoProblem((labels.photo_too_big || "").replace("{mb}", megabytes));
      } else if (request.status === 415) {
        photoProblem(labels.photo_type);
      } else {
        photoProblem(labels.photo_failed);
      }
    };
    request.onerror = function () { photoProblem(labels.photo_failed); };
    request.send(form);
  }

  function addPhotoButton() {
    var sender = document.querySelector(".rw-sender");
    if (!sender || sender.querySelector(".porter-photo")) { return; }
    var input = document.createElement("input");
    input.type = "file";
    input.accept = PHOTO_TYPES.join(",");
    input.hidden = true;
    input.className = "porter-photo-file";
    var button = document.createElement("button");
    button.type = "button";
    button.className = "porter-photo";
    button.textContent = "📷";
    label(button, labels.photo);
    button.title = labels.photo || "";
    button.addEventListener("click", function () { input.click(); });
    input.addEventListener("change", function () {
      sendPhoto(input.files && input.files[0]);
      input.value = "";
    });
    var problem = document.createElement("p");
    problem.id = "porter-photo-problem";
    problem.className = "porter-photo-problem";
    problem.setAttribute("role", "alert");
    problem.hidden = true;
    sender.parentNode.insertBefore(problem, sender);
    sender.insertBefore(input, sender.firstChild);
    sender.insertBefore(button, sender.querySelector(".rw-send"));
  }

  function enhance() {
    addPhotoButton();
    label(document.querySelector(".rw-launcher"), labels.launcher);
    label(document.querySelector(".rw-send"), labels.send);
    var log = document.querySelector(".rw-messages-container");
    if (log && log.getAttribute("role") !== "log") {
      log.setAttribute("role", "log");
      log.setAttribute("aria-live", "polite");
    }
    label(log, labels.conversation);
    Array.prototype.forEach.call(document.querySelectorAll("div.rw-reply:not([role])"), function (reply) {
      reply.setAttribute("role", "button");
      reply.setAttribute("tabindex", "0");
      reply.addEventListener("keydown", pressWithKeyboard);
    });
    Array.prototype.forEach.call(document.querySelectorAll(".rw-response"), keepReferencesWhole);
  }

  // the widget draws its parts again as it opens and as messages come: keep them labelled, and who answers shown
  new MutationObserver(function () {
    showTalking();
    enhance();
  }).observe(document.body, { childList: true, subtree: true });
  if (config.customer) {
    window.setInterval(signIdentity, 500);
  }
})();
