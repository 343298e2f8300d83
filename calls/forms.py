"""The pages' query strings, checked by Django forms: a bad one is a 400 that says what is wrong."""

from django import forms
from django.core.exceptions import BadRequest
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from . import selectors

# Ids and cursors are compared with 64-bit columns: a larger number must not reach the database.
_MAX_ID = 2**63 - 1


class _Query(forms.Form):
    """A query string; CharFields refuse NUL characters (Django's ProhibitNullCharactersValidator)."""

    def __init__(self, data: QueryDict):
        super().__init__(data)
        if not self.is_valid():
            field, messages = next(iter(self.errors.items()))
            raise BadRequest(f"{field}: {messages[0]}")


class SearchQuery(_Query):
    q = forms.CharField(required=False)

    def clean_q(self) -> str:
        return self.cleaned_data["q"][:100]


class HistoryQuery(_Query):
    """Filters (an unknown one reads as no filter), a contact name, and where the page starts."""

    filter = forms.CharField(required=False)
    media = forms.CharField(required=False)
    q = forms.CharField(required=False)
    cursor = forms.CharField(required=False)
    newer_than = forms.IntegerField(required=False, min_value=0, max_value=_MAX_ID)
    contact = forms.IntegerField(required=False, min_value=1, max_value=_MAX_ID)

    def clean_filter(self) -> str:
        value = self.cleaned_data["filter"]
        return value if value in selectors.HISTORY_FILTERS else "all"

    def clean_media(self) -> str:
        value = self.cleaned_data["media"]
        return value if value in ("audio", "video") else ""

    def clean_q(self) -> str:
        return self.cleaned_data["q"][:100]

    def clean_cursor(self) -> "selectors.Cursor | None":
        text = self.cleaned_data["cursor"]
        if not text:
            return None
        try:
            cursor = selectors.Cursor.decode(text)
        except (ValueError, OverflowError, OSError):
            raise forms.ValidationError(_("That page cursor is not valid.")) from None
        if not 0 < cursor.id <= _MAX_ID:
            raise forms.ValidationError(_("That page cursor is not valid."))
        return cursor
