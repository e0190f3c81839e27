"""Forms of the account pages; validation only, the writes are in services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm

from admin_ui import throttle
from admin_ui.applications import ApplicationKind, FieldSpec, mask_secret
from admin_ui.models import ApiToken, Role, Tenant
from admin_ui.roles import SCOPE_DESCRIPTIONS


class EmailAuthenticationForm(AuthenticationForm):
    """Log in with an email address (usernames are emails; this also matches case-insensitively)."""

    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))

    def clean(self) -> dict[str, Any]:
        email = (self.cleaned_data.get("username") or "").strip()
        # Failed logins are counted per account and per IP; past the limit even the right password waits.
        checks = throttle.checks_for("login", account=email, request=self.request) if self.request else ()
        wait = throttle.blocked_for(*checks)
        if wait:
            raise forms.ValidationError(throttle.message(wait, "failed logins"), code="throttled")
        user = get_user_model().objects.filter(email__iexact=email).order_by("id").first()
        if user is not None:
            self.cleaned_data["username"] = user.get_username()
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if self.request is not None:
                throttle.record_both("login", account=email, request=self.request)
            raise
        throttle.clear("login:account", email)
        return cleaned


class SignupForm(forms.Form):
    """Sign-up asks only for the address: the password is chosen through the link sent there."""

    email = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))

    def clean_email(self) -> str:
        # No "already exists" here: the answer must not tell whether an address has an account.
        return str(self.cleaned_data["email"]).strip().lower()


class TenantForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["name"]
        labels = {"name": "Tenant name"}
        help_texts = {"name": "Your company or team, e.g. “Acme Integrations”."}


class TenantDeleteForm(forms.Form):
    confirm = forms.CharField(label="Type the tenant name to confirm")

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def clean_confirm(self) -> str:
        value: str = self.cleaned_data["confirm"]
        if value.strip() != self.tenant.name:
            raise forms.ValidationError(f"Type “{self.tenant.name}” exactly to delete this tenant.")
        return value


def role_choices(actor_role: str) -> list[tuple[str, str]]:
    """Roles an actor may hand out: owners all of them, admins everything below owner."""
    return [(value, label) for value, label in Role.choices if actor_role == Role.OWNER or value != Role.OWNER]


class InviteForm(forms.Form):
    email = forms.EmailField(label="Email")
    role = forms.ChoiceField(label="Role", initial=Role.VIEWER)

    def __init__(self, *args: Any, actor_role: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(actor_role)  # type: ignore[attr-defined]


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class TokenForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100, help_text="What uses it, e.g. “CI deploy”.")
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        choices=ApiToken.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=["read"],
        help_text=" · ".join(f"{scope}: {text}" for scope, text in SCOPE_DESCRIPTIONS.items())
        + ". A token never does more than its creator's current role allows.",
    )


class InstallForm(forms.Form):
    """An install form built from an application kind's field spec."""

    # Not required here: the service checks it together with the spec's fields, so all errors show at once.
    name = forms.CharField(
        label="Install name", max_length=100, required=False, help_text="Unique in this tenant, e.g. “Shop API”."
    )

    def __init__(
        self,
        *args: Any,
        kind: ApplicationKind,
        existing_secrets: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        existing = existing_secrets or {}
        for spec in kind.fields:
            self.fields[spec.name] = self._field_for(spec, existing.get(spec.name))

    @staticmethod
    def _field_for(spec: FieldSpec, current_secret: Any) -> forms.Field:
        attrs: dict[str, Any] = {}
        if spec.when:
            # Read by the page script to hide fields that do not apply to the chosen option.
            (other, values), *_ = spec.when.items()
            attrs["data-when-field"] = other
            attrs["data-when-values"] = " ".join(values)
        help_text = spec.help
        field: forms.Field
        if spec.kind == "select":
            field = forms.ChoiceField(choices=spec.choices, widget=forms.Select(attrs=attrs))
        elif spec.secret:
            attrs["autocomplete"] = "new-password"
            if current_secret:
                attrs["placeholder"] = mask_secret(current_secret)
                help_text = "Stored encrypted. Leave blank to keep the current value."
            else:
                help_text = help_text or "Stored encrypted; never shown again."
            field = forms.CharField(widget=forms.PasswordInput(attrs=attrs, render_value=False))
        elif spec.kind == "url":
            field = forms.CharField(widget=forms.URLInput(attrs=attrs))
        else:
            field = forms.CharField(widget=forms.TextInput(attrs=attrs))
        # Requiredness depends on other fields and on stored secrets: the kind's clean() decides.
        field.required = False
        field.label = spec.label + ("" if spec.required else " (optional)")
        field.help_text = help_text
        field.initial = spec.default or None
        return field

    def values(self) -> dict[str, Any]:
        return {spec.name: self.cleaned_data.get(spec.name) or "" for spec in self.kind.fields}
