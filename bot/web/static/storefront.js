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

  function start() {
    window.WebChat.default({
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
  restoreThenStart();
  if (config.customer) {
    window.setInterval(signIdentity, 500);
  }
})();
