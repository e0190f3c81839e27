"""Page forms of limits; the services do the real checks."""

from __future__ import annotations

from typing import Any

from django import forms

from limiter.models import MAX_AMOUNT, MAX_SECONDS
from limiter.selectors import application_choices


class LimitForm(forms.Form):
    application = forms.ModelChoiceField(queryset=application_choices(), empty_label=None)
    amount = forms.IntegerField(min_value=1, max_value=MAX_AMOUNT, label="Calls", help_text="At most this many calls…")
    seconds = forms.IntegerField(
        min_value=1, max_value=MAX_SECONDS, label="Per seconds", initial=1, help_text="…in any window this long."
    )
    group = forms.BooleanField(
        required=False,
        label="Shared by all tenants (group limit)",
        help_text="Every tenant's calls to this application count together. Staff only.",
    )

    def __init__(self, *args: Any, staff: bool = False, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            # The application and scope make the key the engines count under; change them by a new limit.
            del self.fields["application"]
        if editing or not staff:
            del self.fields["group"]
