"""Page forms of topologies; the services do the real checks."""

from __future__ import annotations

from typing import Any

from django import forms


class TopologyForm(forms.Form):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"autofocus": True}))
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


class CloneForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name of the copy")


class DeleteForm(forms.Form):
    force = forms.BooleanField(
        required=False,
        label="Delete even though processes are in progress",
        help_text="Running processes lose their topology; their messages end in the trash.",
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        label="BPMN file", help_text="A .bpmn or .xml file from bpmn.io, Camunda Modeler or Flowyard."
    )
    name = forms.CharField(
        max_length=100, required=False, help_text="Defaults to the file name; a number is added if it is taken."
    )
    process_id = forms.CharField(
        label="Process to run",
        max_length=200,
        required=False,
        help_text="For files with several processes: the id of the one to run. "
        "Empty: the one with the most runnable nodes.",
    )

    def clean_file(self) -> Any:
        from topology.bpmn.parse import max_bytes

        upload = self.cleaned_data["file"]
        if upload.size > max_bytes():
            raise forms.ValidationError(f"The file is larger than {max_bytes() // (1024 * 1024)} MB.")
        return upload


class DiffForm(forms.Form):
    a = forms.TypedChoiceField(coerce=int, label="From version")
    b = forms.TypedChoiceField(coerce=int, label="To version")

    def __init__(self, *args: Any, numbers: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(n, f"v{n}") for n in numbers]
        self.fields["a"].choices = choices  # type: ignore[attr-defined]
        self.fields["b"].choices = choices  # type: ignore[attr-defined]
