// Starts Porter's chat widget (rasa-webchat, loaded just before this file) with what the page knows.
(function () {
  "use strict";

  // The widget's own labels, in the shopper's language (Porter's replies come from the server).
  var LABELS = {
    en: { subtitle: "Help with your orders", hint: "Type a message..." },
    zh: { subtitle: "订单与配送帮助", hint: "请输入消息..." },
    es: { subtitle: "Ayuda con tus pedidos", hint: "Escribe un mensaje..." },
    fr: { subtitle: "Aide pour vos commandes", hint: "Écrivez un message..." },
    de: { subtitle: "Hilfe zu Ihren Bestellungen", hint: "Nachricht eingeben..." },
    ru: { subtitle: "Помощь с заказами", hint: "Введите сообщение..." },
    pt: { subtitle: "Ajuda com os seus pedidos", hint: "Escreva uma mensagem..." }
  };
  var SESSION_KEY = "chat_session";        // where rasa-webchat keeps the conversation (storage "local")
  var CUSTOMER_KEY = "porter_customer";    // whose conversation that is, when a customer was signed in

  var config = JSON.parse(document.getElementById("porter-widget").textContent);
  var locale = config.locale || navigator.language || "en";
  var labels = LABELS[locale.slice(0, 2).toLowerCase()] || LABELS.en;

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

  // The chat session comes from the shop's server, never from this page: the handle the browser keeps if
  // Porter issued it and it is still valid, else a new one (and then the old conversation is not shown).
  function withSession(start) {
    var previous = stored();
    var request = new XMLHttpRequest();
    request.open("POST", config.sessionUrl);
    request.setRequestHeader("Content-Type", "application/json");
    request.onload = function () {
      var answer = request.status === 200 ? JSON.parse(request.responseText) : null;
      if (answer && (!previous || previous.session_id !== answer.session)) {
        // rasa-webchat 1.0.1's storage format: it drops entries of another version
        window.localStorage.setItem(SESSION_KEY, JSON.stringify({ session_id: answer.session, version: "1.0.1" }));
      }
      if (answer && answer.identity) {
        customData.identity = answer.identity;
      }
      start();
    };
    request.onerror = start;  // the widget still opens; the channel then issues the session itself
    request.send(JSON.stringify({
      session: previous && previous.session_id ? previous.session_id : null,
      customer: config.customer || null
    }));
  }

  withSession(function () {
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
      showMessageDate: false
    }, null);
  });
})();
