"""What a channel says itself, in the shopper's language, when a message never reaches Rasa (too long, sent
faster than Porter reads) or Rasa could not finish its turn. (Rasa's own replies live in the domain; these are
answered around it.)"""
from __future__ import annotations

from typing import Dict, Optional

TOO_LONG = {
    "en": "Sorry, your message is too long for me ({length} characters; I can read up to {limit}). "
          "Could you send it again in shorter parts?",
    "zh": "抱歉，您的消息太长了（{length} 个字符，我最多能读 {limit} 个）。能分成几条短一点的消息再发一次吗？",
    "es": "Lo siento, tu mensaje es demasiado largo para mí ({length} caracteres; puedo leer hasta {limit}). "
          "¿Podrías enviarlo de nuevo en partes más cortas?",
    "fr": "Désolé, votre message est trop long pour moi ({length} caractères ; je peux en lire {limit} au "
          "maximum). Pourriez-vous le renvoyer en plusieurs parties plus courtes ?",
    "de": "Entschuldigung, Ihre Nachricht ist zu lang für mich ({length} Zeichen; ich kann bis zu {limit} "
          "lesen). Könnten Sie sie in kürzeren Teilen noch einmal senden?",
    "ru": "Извините, ваше сообщение слишком длинное ({length} символов, я могу прочитать не больше {limit}). "
          "Отправьте его, пожалуйста, ещё раз по частям.",
    "pt": "Desculpe, sua mensagem é longa demais para mim ({length} caracteres; consigo ler até {limit}). "
          "Pode enviá-la de novo em partes menores?",
}

SLOW_DOWN = {
    "en": "You're sending messages faster than I can read them. Please wait a few seconds and send it again.",
    "zh": "您发消息的速度太快了，我来不及读。请稍等几秒钟再发一次。",
    "es": "Estás enviando mensajes más rápido de lo que puedo leerlos. Espera unos segundos y vuelve a enviarlo.",
    "fr": "Vous envoyez des messages plus vite que je ne peux les lire. Attendez quelques secondes et renvoyez-le.",
    "de": "Sie senden Nachrichten schneller, als ich sie lesen kann. Bitte warten Sie ein paar Sekunden und "
          "senden Sie sie noch einmal.",
    "ru": "Вы отправляете сообщения быстрее, чем я успеваю их читать. Подождите несколько секунд и отправьте ещё раз.",
    "pt": "Você está enviando mensagens mais rápido do que consigo ler. Aguarde alguns segundos e envie de novo.",
}

TRY_AGAIN = {
    "en": "Sorry, I couldn't take in your last message just now. Please send it again in a minute.",
    "zh": "抱歉，我刚才没能接收到您的上一条消息。请过一分钟再发一次。",
    "es": "Lo siento, no he podido recibir tu último mensaje en este momento. Vuelve a enviarlo dentro de un minuto.",
    "fr": "Désolé, je n'ai pas pu prendre en compte votre dernier message. Renvoyez-le dans une minute, s'il vous "
          "plaît.",
    "de": "Entschuldigung, Ihre letzte Nachricht ist gerade nicht bei mir angekommen. Bitte senden Sie sie in "
          "einer Minute noch einmal.",
    "ru": "Извините, я не смог принять ваше последнее сообщение. Пожалуйста, отправьте его ещё раз через минуту.",
    "pt": "Desculpe, não consegui receber sua última mensagem agora. Por favor, envie de novo daqui a um minuto.",
}


def say(table: Dict[str, str], language: Optional[str], **values: object) -> str:
    """The notice in ``language`` (its first two letters), English when Porter does not speak it."""
    return table.get(str(language or "")[:2].lower(), table["en"]).format(**values)
