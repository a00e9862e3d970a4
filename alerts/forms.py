from django import forms

from detection.models import RiskPolicy


class RiskPolicyForm(forms.ModelForm):
    """New thresholds; the model's clean() checks the bands are ordered and inside [0, 1]."""

    class Meta:
        model = RiskPolicy
        fields = ["medium", "high", "critical", "review_threshold", "block_threshold", "comment"]
        widgets = {name: forms.NumberInput(attrs={"step": "0.001", "min": 0, "max": 1}) for name in fields[:5]}


class AuditExportForm(forms.Form):
    action = forms.CharField(required=False)
    since = forms.DateTimeField(required=False)
    until = forms.DateTimeField(required=False)
