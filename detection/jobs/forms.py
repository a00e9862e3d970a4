"""The analysis page's table filters, from the query string (the CSV export takes the same)."""

from django import forms

from detection.jobs.analysis import Filters
from detection.models import Decision, Score
from transactions.models import Channel

ANY = ("", "any")


class AnalysisFilterForm(forms.Form):
    risk = forms.ChoiceField(label="Risk", choices=[ANY, *Score.RiskLevel.choices], required=False)
    flagged = forms.ChoiceField(
        label="Flagged", choices=[ANY, ("yes", "flagged"), ("no", "not flagged")], required=False
    )
    decision = forms.ChoiceField(label="Decision", choices=[ANY, *Decision.choices], required=False)
    category = forms.CharField(label="Category", max_length=64, required=False)
    channel = forms.ChoiceField(label="Channel", choices=[ANY, *Channel.choices], required=False)
    merchant = forms.CharField(label="Merchant", max_length=128, required=False)
    day = forms.DateField(label="Day", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    min_score = forms.FloatField(
        label="Score from", min_value=0, max_value=1, required=False, widget=forms.NumberInput(attrs={"step": "0.01"})
    )
    q = forms.CharField(label="Transaction or account", max_length=128, required=False)
    page = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    def filters(self) -> Filters:
        data = self.cleaned_data
        return Filters(
            risk=data["risk"],
            flagged=data["flagged"],
            decision=data["decision"],
            category=data["category"].strip().lower(),
            channel=data["channel"],
            merchant=data["merchant"].strip(),
            day=data["day"].isoformat() if data["day"] else "",
            min_score=data["min_score"],
            q=data["q"].strip(),
        )
