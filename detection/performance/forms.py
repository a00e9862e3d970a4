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
