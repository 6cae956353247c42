"""Validation messages in German (the default) and English."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Any

import marshmallow as ma

# --- messages ----------------------------------------------------------------------------------------------

_MESSAGES: dict[str, dict[str, str]] = {
    "de": {
        "required": "Dieses Feld ist erforderlich.",
        "min_length": "Bitte mindestens {n} Zeichen eingeben.",
        "max_length": "Bitte höchstens {n} Zeichen eingeben.",
        "range": "Der Wert muss zwischen {min} und {max} liegen.",
        "min": "Der Wert muss mindestens {min} sein.",
        "max": "Der Wert darf höchstens {max} sein.",
        "integer": "Bitte eine ganze Zahl eingeben.",
        "number": "Bitte eine Zahl eingeben.",
        "decimals": "Bitte höchstens {n} Nachkommastellen eingeben.",
        "step": "Bitte einen Wert in Schritten von {step} eingeben.",
        "choice": "Bitte eine der angebotenen Möglichkeiten wählen.",
        "pattern": "Die Eingabe hat nicht das erwartete Format.",
        "email": "Bitte eine gültige E-Mail-Adresse eingeben.",
        "phone": "Bitte eine gültige Telefonnummer eingeben.",
        "date": "Bitte ein gültiges Datum eingeben (TT.MM.JJJJ).",
        "time": "Bitte eine gültige Uhrzeit eingeben (HH:MM).",
        "datetime": "Bitte ein gültiges Datum mit Uhrzeit eingeben.",
        "past_date": "Das Datum darf nicht in der Vergangenheit liegen.",
        "boolean": "Bitte ja oder nein angeben.",
        "text": "Bitte einen Text eingeben.",
        "too_many": "Bitte höchstens {n} Einträge angeben.",
        "invalid": "Ungültige Eingabe.",
    },
    "en": {
        "required": "This field is required.",
        "min_length": "Please enter at least {n} characters.",
        "max_length": "Please enter at most {n} characters.",
        "range": "The value must be between {min} and {max}.",
        "min": "The value must be at least {min}.",
        "max": "The value must be at most {max}.",
        "integer": "Please enter a whole number.",
        "number": "Please enter a number.",
        "decimals": "Please enter at most {n} decimal places.",
        "step": "Please enter a value in steps of {step}.",
        "choice": "Please choose one of the options offered.",
        "pattern": "The input does not have the expected format.",
        "email": "Please enter a valid e-mail address.",
        "phone": "Please enter a valid phone number.",
        "date": "Please enter a valid date (DD.MM.YYYY).",
        "time": "Please enter a valid time (HH:MM).",
        "datetime": "Please enter a valid date and time.",
        "past_date": "The date must not be in the past.",
        "boolean": "Please answer yes or no.",
        "text": "Please enter text.",
        "too_many": "Please give at most {n} entries.",
        "invalid": "Invalid input.",
    },
}


class _Catalogue:
    """The messages of one locale; numbers in them are written the locale's way (1,5 in German)."""

    def __init__(self, locale: str):
        self.locale = locale
        self.table = _MESSAGES[locale]

    def __call__(self, message: str, **params: Any) -> str:
        return self.table[message].format(**{k: self.number(v) for k, v in params.items()})

    def number(self, value: Any) -> str:
        if isinstance(value, float | Decimal) and value == int(value):
            value = int(value)
        shown = str(value)
        return shown.replace(".", ",") if self.locale == "de" else shown

    def error(self, message: str, **params: Any) -> ma.ValidationError:
        return ma.ValidationError(self(message, **params))


def _language(locale: str) -> str:
    language = (locale or "de").replace("-", "_").split("_")[0].lower()
    return language if language in _MESSAGES else "de"


@lru_cache(maxsize=8)
def _catalogue(language: str) -> _Catalogue:
    return _Catalogue(language)
