"""The settings of Porter speaking first, from the environment (README, "Alerts, follow-ups and ratings")."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Mapping, Optional

from bot.paths import var_dir

DEFAULT_WATCH_SECONDS = 900


def _link_secret(env: Mapping[str, str]) -> str:
    """PORTER_LINK_SECRET signs the links in emails (unsubscribe); without it, one is generated and kept."""
    given = env.get("PORTER_LINK_SECRET")
    if given:
        return given
    path = var_dir() / "link_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def whatsapp_alert_template(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """PORTER_WHATSAPP_ALERT_TEMPLATE: an approved template for alerts outside WhatsApp's 24-hour window (the
    watcher routes by it, the alert action sends it)."""
    env = environ if environ is not None else os.environ
    return (env.get("PORTER_WHATSAPP_ALERT_TEMPLATE") or "").strip() or None


@dataclass(frozen=True)
class OutreachSettings:
    public_url: str  # where shoppers reach Porter's web server: the storefront's chat and the links in emails
    shop_name: str
    watch_seconds: int  # between two passes of the watcher; 0: `make run` starts no watcher
    link_secret: str
    whatsapp_alert_template: Optional[str]  # an approved template for alerts outside WhatsApp's 24-hour window

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "OutreachSettings":
        env = environ if environ is not None else os.environ
        raw = (env.get("PORTER_WATCH_INTERVAL") or "").strip()
        try:
            seconds = int(raw) if raw else DEFAULT_WATCH_SECONDS
            if seconds < 0:
                raise ValueError
        except ValueError:
            raise ValueError(
                f"PORTER_WATCH_INTERVAL must be a whole number of seconds (0: off), found {raw!r}"
            ) from None
        port = env.get("PORTER_WEB_PORT") or "8080"
        return cls(
            public_url=(env.get("PORTER_PUBLIC_URL") or f"http://localhost:{port}").rstrip("/"),
            shop_name=(env.get("PORTER_SHOP_NAME") or "Porter Demo Shop").strip(),
            watch_seconds=seconds,
            link_secret=_link_secret(env),
            whatsapp_alert_template=whatsapp_alert_template(env),
        )
