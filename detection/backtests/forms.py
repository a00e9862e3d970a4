from django import forms

from detection.backtests import files as backtest_files
from detection.staging.forms import NOT_IN_FILE, MappingForm

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
    FIELDS = backtest_files.CANONICAL
    REQUIRED = backtest_files.REQUIRED

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label_column"].required = True
        self.fields["label_column"].label = "Label column (1 fraud, 0 legitimate)"
        self.fields["split_column"].choices = [NOT_IN_FILE, *[(c, c) for c in self.columns]]
        split_guess = next((c for c in self.columns if c.lower() in ("split", "set", "subset")), "")
        self.fields["split_column"].initial = split_guess

    def option_fields(self):
        return [self[name] for name in (*self.OPTION_NAMES, "seed")]

    def clean(self):
        data = super().clean()
        split = data.get("split_column")
        if split and split in (*self.mapped_columns(data), data.get("label_column")):
            raise forms.ValidationError(f"Column {split!r} cannot be both the split and a field or the label.")
        data["attributes"] = [c for c in data.get("attributes", []) if c != split]
        return data

    def options(self) -> dict:
        return {name: self.cleaned_data[name] for name in (*self.OPTION_NAMES, "seed")}
