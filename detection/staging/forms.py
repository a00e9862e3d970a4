"""The two forms of staging: the file to upload, and the mapping of its columns onto the canonical fields."""

from django import forms

from detection.engine.leakage import label_leaks
from detection.staging.selectors import staged_upload_columns
from detection.staging.services import StagedUpload, UploadTooLarge, upload_size_check
from transactions import validation
from transactions.files import guess_label_column, guess_mapping

NOT_IN_FILE = ("", "— not in the file —")
UPLOAD_SUFFIXES = (".csv", ".parquet", ".pq")


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV or Parquet file",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.parquet,.pq"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(UPLOAD_SUFFIXES):
            raise forms.ValidationError("Upload a .csv or .parquet file.")
        try:
            upload_size_check(upload.size)
        except UploadTooLarge as exc:
            raise forms.ValidationError(str(exc))
        return upload

    @classmethod
    def too_large(cls, reason: str) -> "UploadForm":
        """The form refusing a request whose body is past the limit, without reading that body."""
        form = cls({}, {})
        form.is_valid()
        form.errors["file"] = form.error_class([reason])
        return form


class MappingForm(forms.Form):
    """Canonical field ← file column, one select per field (guessed, editable), extra columns kept as attributes,
    and the column holding known outcomes, if any. A subclass may offer other fields (FIELDS, REQUIRED).

    No extra column is ticked by default: each one is a model feature, so it is the person's choice. With a label
    column and the staged file at hand, a ticked column that predicts the label nearly perfectly is refused, named
    (detection.engine.leakage)."""

    FIELDS = validation.CANONICAL_FIELDS
    REQUIRED = validation.REQUIRED

    def __init__(
        self,
        *args,
        columns: list[str],
        guess: dict,
        label_guess: str | None,
        staged: StagedUpload | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.staged = staged
        self.columns, self.canonical = columns, [f for f in self.FIELDS if f != "label"]
        choices = [NOT_IN_FILE, *[(c, c) for c in columns]]
        for name in self.canonical:
            self.fields[f"map_{name}"] = forms.ChoiceField(
                label=name, choices=choices, required=name in self.REQUIRED, initial=guess.get(name, "")
            )
        self.fields["label_column"] = forms.ChoiceField(
            label="Known outcome (label) column", choices=choices, required=False, initial=label_guess or ""
        )
        self.fields["attributes"] = forms.MultipleChoiceField(
            label="Keep as attributes",
            choices=[(c, c) for c in columns],
            required=False,
            widget=forms.CheckboxSelectMultiple,
        )

    @classmethod
    def for_columns(cls, columns: list[str], data=None, staged: StagedUpload | None = None):
        """The form for a file with this header, its mapping and label column guessed from the names; given the
        staged file, it refuses attributes that leak the label."""
        guess, label_guess = guess_mapping(columns), guess_label_column(columns)
        return cls(data, columns=columns, guess=guess, label_guess=label_guess, staged=staged)

    def mapping_fields(self):
        return [self[f"map_{name}"] for name in self.canonical]

    def mapping(self) -> dict[str, str]:
        return {name: self.cleaned_data[f"map_{name}"] for name in self.canonical if self.cleaned_data[f"map_{name}"]}

    def mapped_columns(self, data: dict) -> list[str]:
        """The file's columns chosen for a field, in field order."""
        return [data.get(f"map_{name}") for name in self.canonical if data.get(f"map_{name}")]

    def clean(self):
        data = super().clean()
        chosen = self.mapped_columns(data)
        label = data.get("label_column")
        doubled = sorted({c for c in chosen if chosen.count(c) > 1})
        if doubled:
            raise forms.ValidationError(f"Column {doubled[0]!r} is mapped to more than one field.")
        if label and label in chosen:
            raise forms.ValidationError(f"Column {label!r} cannot be both a field and the label.")
        data["attributes"] = [c for c in data.get("attributes", []) if c not in chosen and c != label]
        self._refuse_leaks(label, data["attributes"])
        return data

    def _refuse_leaks(self, label: str | None, attributes: list[str]) -> None:
        """An error on `attributes` naming each ticked column that gives the label away."""
        if self.staged is None or not label or not attributes:
            return
        try:
            frame = staged_upload_columns(self.staged, [label, *attributes])
        except (ValueError, OSError, KeyError):  # unreadable rows: the job or the run reports them
            return
        for leak in label_leaks({c: frame[c] for c in attributes}, frame[label]):
            self.add_error("attributes", f"{leak.describe(label)} Untick it.")
