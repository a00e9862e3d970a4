from django import forms

from detection.models import Score
from review.models import ReviewItem


class QueueFilterForm(forms.Form):
    """The queue's filters and sort, read from the query string (the page's and the websocket's alike)."""

    STATUS_CHOICES = [
        ("active", "Open and in review"),
        ("open", "Open"),
        ("in_review", "In review"),
        ("needs_info", "Needs info"),
        ("decided", "Decided"),
        ("closed", "Closed"),
        ("snoozed", "Snoozed"),
        ("all", "All"),
    ]
    ASSIGNEE_CHOICES = [("anyone", "Anyone"), ("me", "Me"), ("unassigned", "Unassigned")]
    AGE_CHOICES = [("", "Any age"), ("60", "Older than 1 h"), ("240", "Older than 4 h"), ("1440", "Older than 1 day")]
    SORT_CHOICES = [("priority", "Priority"), ("score", "Score"), ("amount", "Amount"), ("age", "Oldest first")]

    risk = forms.ChoiceField(choices=[("", "Any risk"), *Score.RiskLevel.choices], required=False)
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    assignee = forms.ChoiceField(choices=ASSIGNEE_CHOICES, required=False)
    min_amount = forms.DecimalField(required=False, min_value=0, decimal_places=2, max_digits=14)
    max_amount = forms.DecimalField(required=False, min_value=0, decimal_places=2, max_digits=14)
    category = forms.CharField(required=False, max_length=64)
    account = forms.CharField(required=False, max_length=128)
    min_age = forms.ChoiceField(choices=AGE_CHOICES, required=False)
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)
    source = forms.CharField(required=False, max_length=100, widget=forms.Select)

    def __init__(self, *args, sources: list[str] = (), **kwargs):
        """`sources`: the names the source filter offers (the organisation's live sources); any name filters."""
        super().__init__(*args, **kwargs)
        self.fields["source"].widget.choices = [("", "Any source"), *((name, name) for name in sources)]

    def filters(self) -> dict:
        """The cleaned filters; invalid values are ignored rather than failing the page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: data.get(name) for name in self.fields if data.get(name) not in (None, "")}


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=ReviewItem.Decision.choices, widget=forms.RadioSelect)
    note = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class NoteForm(forms.Form):
    note = forms.CharField(max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
