from django import forms

WINDOW_CHOICES = [("7", "last 7 days"), ("30", "last 30 days")]


def _unit(label: str, help_text: str = "") -> forms.FloatField:
    return forms.FloatField(
        label=label,
        min_value=0.0,
        max_value=1.0,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"step": "0.001", "min": "0", "max": "1", "inputmode": "decimal"}),
    )


class ThresholdForm(forms.Form):
    """The review threshold and the risk bands, as explored (GET) and as saved (POST, admins)."""

    review_threshold = _unit("Review threshold", "Scores at or above this are flagged and queued for review.")
    medium = _unit("Medium from")
    high = _unit("High from")
    critical = _unit("Critical from")
    window = forms.TypedChoiceField(choices=WINDOW_CHOICES, coerce=int, initial="7", required=False, empty_value=7)
    comment = forms.CharField(max_length=200, required=False, label="Why (kept in the audit trail)")

    def clean(self):
        data = super().clean()
        medium, high, critical = data.get("medium"), data.get("high"), data.get("critical")
        if None not in (medium, high, critical) and not medium <= high <= critical:
            raise forms.ValidationError("Bands must be ordered: medium ≤ high ≤ critical.")
        return data

    def policy_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in ("medium", "high", "critical", "review_threshold")}

    @classmethod
    def from_policy(cls, policy, *, window: int = 7) -> "ThresholdForm":
        values = {name: getattr(policy, name) for name in ("medium", "high", "critical", "review_threshold")}
        form = cls(values | {"window": str(window)})
        form.is_valid()
        return form


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
        return upload


class MappingForm(forms.Form):
    """Canonical field ← file column, one select per field (guessed, editable), extra columns kept as attributes,
    and the column holding known outcomes, if any."""

    def __init__(self, *args, columns: list[str], fields: tuple, required: tuple, guess: dict, label_guess, **kwargs):
        super().__init__(*args, **kwargs)
        self.columns, self.canonical = columns, [f for f in fields if f != "label"]
        choices = [NOT_IN_FILE, *[(c, c) for c in columns]]
        for name in self.canonical:
            self.fields[f"map_{name}"] = forms.ChoiceField(
                label=name, choices=choices, required=name in required, initial=guess.get(name, "")
            )
        self.fields["label_column"] = forms.ChoiceField(
            label="Known outcome (label) column", choices=choices, required=False, initial=label_guess or ""
        )
        used = {*guess.values(), label_guess}
        self.fields["attributes"] = forms.MultipleChoiceField(
            label="Keep as attributes",
            choices=[(c, c) for c in columns],
            required=False,
            initial=[c for c in columns if c not in used],
            widget=forms.CheckboxSelectMultiple,
        )

    def mapping_fields(self):
        return [self[f"map_{name}"] for name in self.canonical]

    def mapping(self) -> dict[str, str]:
        return {name: self.cleaned_data[f"map_{name}"] for name in self.canonical if self.cleaned_data[f"map_{name}"]}

    def clean(self):
        data = super().clean()
        chosen = [data.get(f"map_{name}") for name in self.canonical if data.get(f"map_{name}")]
        label = data.get("label_column")
        doubled = sorted({c for c in chosen if chosen.count(c) > 1})
        if doubled:
            raise forms.ValidationError(f"Column {doubled[0]!r} is mapped to more than one field.")
        if label and label in chosen:
            raise forms.ValidationError(f"Column {label!r} cannot be both a field and the label.")
        data["attributes"] = [c for c in data.get("attributes", []) if c not in chosen and c != label]
        return data


FEEDBACK_CHOICES = [
    ("none", "None — a cold start, no label is ever seen"),
    ("reported", "Reported — every label arrives after a delay, like chargebacks"),
    ("reviews", "Reviews — each day analysts review the top-scored transactions"),
]


class BacktestOptionsForm(MappingForm):
    """The mapping of a labelled file (the label column required) and how to replay it."""

    split_column = forms.ChoiceField(required=False, label="Split column (train / val / test), instead of days")
    train_days = forms.IntegerField(min_value=1, max_value=365, initial=7, label="Train days")
    delay_days = forms.IntegerField(min_value=0, max_value=365, initial=7, label="Delay days")
    test_days = forms.IntegerField(min_value=1, max_value=365, initial=7, label="Test days")
    folds = forms.IntegerField(min_value=1, max_value=12, initial=1, label="Folds")
    feedback = forms.ChoiceField(choices=FEEDBACK_CHOICES, initial="none")
    reviews_per_day = forms.IntegerField(min_value=1, max_value=100_000, initial=100, label="Reviews per day")
    label_delay_days = forms.IntegerField(min_value=0, max_value=365, initial=7, label="Label delay (days)")
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, initial=0)

    OPTION_NAMES = ("train_days", "delay_days", "test_days", "folds", "feedback", "reviews_per_day", "label_delay_days")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label_column"].required = True
        self.fields["label_column"].label = "Label column (1 fraud, 0 legitimate)"
        self.fields["split_column"].choices = [NOT_IN_FILE, *[(c, c) for c in self.columns]]
        split_guess = next((c for c in self.columns if c.lower() in ("split", "set", "subset")), "")
        self.fields["split_column"].initial = split_guess
        if split_guess:
            self.fields["attributes"].initial = [c for c in self.fields["attributes"].initial if c != split_guess]

    def option_fields(self):
        return [self[name] for name in (*self.OPTION_NAMES, "seed")]

    def clean(self):
        data = super().clean()
        split = data.get("split_column")
        if split and split in (*self.mapping_values(data), data.get("label_column")):
            raise forms.ValidationError(f"Column {split!r} cannot be both the split and a field or the label.")
        data["attributes"] = [c for c in data.get("attributes", []) if c != split]
        return data

    def mapping_values(self, data) -> list[str]:
        return [data.get(f"map_{name}") for name in self.canonical if data.get(f"map_{name}")]

    def options(self) -> dict:
        return {name: self.cleaned_data[name] for name in (*self.OPTION_NAMES, "seed")}
