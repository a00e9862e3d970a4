import re

from django import forms
from django.conf import settings

from rules.models import ValueList


class ValueListForm(forms.Form):
    name = forms.CharField(
        max_length=63,
        help_text="How rules read it: merchant_id in lists.<name>. Lower-case letters, digits and underscores.",
        widget=forms.TextInput(attrs={"placeholder": "blocked_merchants", "autocomplete": "off"}),
    )
    kind = forms.ChoiceField(choices=ValueList.Kind.choices)
    description = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class EntriesAddForm(forms.Form):
    values = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "One value a line (or separated by commas)"}),
        help_text="Normalised by the list's kind: countries as FR, card BINs as 6–8 digits, IP addresses.",
    )
    expires_at = forms.DateTimeField(
        required=False,
        help_text="Members until then (UTC); empty: no expiry.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
    )
    note = forms.CharField(required=False, max_length=200)

    def clean_values(self) -> list[str]:
        values = [part for part in re.split(r"[\n,]", self.cleaned_data["values"]) if part.strip()]
        if not values:
            raise forms.ValidationError("Give at least one value.")
        return values


class EntryRemoveForm(forms.Form):
    value = forms.CharField(max_length=256, strip=False)


class EntriesUploadForm(forms.Form):
    file = forms.FileField(help_text="CSV: value[,expires_at][,note]; a first row 'value,…' is read as the header.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.FILE_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(f"The file is larger than {settings.FILE_UPLOAD_MAX_BYTES:,} bytes.")
        return upload


class EntrySearchForm(forms.Form):
    search = forms.CharField(required=False, max_length=256, widget=forms.TextInput(attrs={"type": "search"}))
