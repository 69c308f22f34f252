"""The conversations both bots are driven with: what shoppers really write, turn by turn.

Porter's go through its real flows (the order lookup, verification, the situation with its scans, the fix, the
address form) in several languages, each on an order of its own: a clone of a demo order (data/demo) with a fresh
number, so that no order is refunded twice and every conversation takes the path it was written for. The bare
bot's follow the stories `rasa init` trains it on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple, Union


@dataclass(frozen=True)
class Button:
    """Press the button at ``index`` of the bot's last reply (its payload is sent, as a channel does)."""

    index: int


@dataclass(frozen=True)
class Expect:
    """The bot's reply to the previous message must contain ``text``; the run reports how many did not."""

    text: str


Step = Union[str, Button, Expect]


@dataclass(frozen=True)
class Script:
    name: str
    steps: Tuple[Step, ...]
    template_order: Optional[str] = None  # the demo order this conversation's order is cloned from

    def messages(self) -> int:
        return sum(1 for step in self.steps if not isinstance(step, Expect))


# "{order}" and "{email}" are the cloned order's number and email. Expect steps check that the flow took its path.
PORTER = (
    Script(
        "stalled parcel, a question, then a refund (en)",
        (
            "hi",
            "my parcel never arrived",
            "{order}",
            "{email}",
            Expect("no new scan"),
            "how much longer?",
            Button(0),
            Expect("refunded"),
            "thanks",
            "bye",
        ),
        "A10024",
    ),
    Script(
        "address change before shipping (zh)",
        (
            "我想改一下收货地址",
            "{order}",
            "{email}",
            Expect("修改地址"),
            "香港九龙弥敦道99号15楼C室",
            Button(0),
            Expect("已完成"),
            "谢谢",
        ),
        "A10030",
    ),
    Script(
        "parcel at a pickup point (es)",
        ("hola, ¿dónde está mi pedido?", "{order}", "{email}", Expect("recogida"), "gracias", "adiós"),
        "A10026",
    ),
    Script("small talk (en)", ("hello", "are you a bot?", "what's the weather like tomorrow?", "thank you", "bye")),
    Script(
        "stalled parcel, a wrong email, then a reshipment (zh)",
        (
            "我的包裹一直没收到",
            "{order}",
            "wang@example.com",
            Expect("不匹配"),
            "{email}",
            Button(1),
            Expect("新包裹"),
            "谢谢",
        ),
        "123456790",
    ),
    Script(
        "address change after shipping (pt)",
        (
            "preciso mudar o endereço de entrega",
            "{order}",
            "{email}",
            "Ana Souza, Rua do Ouro 25, 2 Dto, 1100-060 Lisboa, Portugal",
            Button(0),
            Expect("PC-"),
            "obrigado",
        ),
        "A10023",
    ),
    Script(
        "parcel in transit, scan alerts (de)",
        ("hallo, wo ist mein Paket?", "{order}", "{email}", Button(0), "danke", "tschüss"),
        "A10031",
    ),
)

# The stories and rules of `rasa init`'s bot (data/stories.yml, data/rules.yml of its scaffold).
BARE = (
    Script("happy path", ("hello", "I am great", "bye")),
    Script("sad path, cheered up", ("hi", "I am sad", "yes", "goodbye")),
    Script("sad path, not cheered up", ("hey there", "not good", "no", "see you later")),
    Script("are you a bot", ("are you a bot?", "good morning", "perfect", "bye")),
)
