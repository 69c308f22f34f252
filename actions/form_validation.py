"""The base of Porter's form validation actions: each form's slots read from the domain file, not from the call.

Rasa sends its whole domain (over 200 KiB, nine tenths of it reply texts) with every action call unless selective
domain is on, and encoding it was a tenth of Rasa's CPU per turn (issue 13). endpoints.yml turns selective
domain on, so no call carries the domain. The one thing Porter's actions read from it is the list of slots each
form asks for, which rasa_sdk's ``FormValidationAction`` takes from the call's domain; here it comes from the
domain file this action server ships with, the same file Rasa trained on, read once.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Text

from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from bot.domain_files import domain_dict
from bot.paths import PROJECT_ROOT

DOMAIN = PROJECT_ROOT / "domain"


@lru_cache(maxsize=None)
def required_slots_of_forms(domain: Path = DOMAIN) -> Dict[Text, List[Text]]:
    """Each form's ``required_slots``, as the domain declares them (a file, or a folder Rasa merges)."""
    forms = domain_dict(domain).get("forms") or {}
    return {name: list((form or {}).get("required_slots") or []) for name, form in forms.items()}


class DomainFileFormValidation(FormValidationAction, metaclass=ABCMeta):
    """rasa_sdk's form validation with the form's slots from the domain file, whether or not Rasa sent a
    domain; a form the file does not declare fails loudly instead of silently validating nothing. Abstract,
    so that rasa_sdk registers only the forms built on it."""

    @abstractmethod
    def name(self) -> Text:
        """validate_<form name>"""

    def domain_slots(self, domain: DomainDict) -> List[Text]:
        forms = required_slots_of_forms()
        if self.form_name() not in forms:
            raise LookupError(f"{self.name()}: the form {self.form_name()!r} is not in {DOMAIN.name}")
        return list(forms[self.form_name()])
