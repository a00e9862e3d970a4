from django import forms

from review.bulk.forms import IdsField
from review.models import ReviewItem

DECISIONS = [(ReviewItem.Decision.FRAUD, "Fraud"), (ReviewItem.Decision.LEGITIMATE, "Legitimate")]


class CaseFilterForm(forms.Form):
    """The cases page's filters and sort, read from the query string (the page's and the websocket's alike)."""

    STATUS_CHOICES = [("open", "Open"), ("snoozed", "Snoozed"), ("closed", "Closed"), ("all", "All")]
    ASSIGNEE_CHOICES = [("anyone", "Anyone"), ("me", "Mine"), ("unassigned", "Unassigned")]
    AGE_CHOICES = [("", "Any age"), ("60", "Older than 1 h"), ("240", "Older than 4 h"), ("1440", "Older than 1 day")]
    SORT_CHOICES = [("age", "Oldest first"), ("score", "Top score"), ("items", "Most items"), ("amount", "Amount")]

    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False)
    assignee = forms.ChoiceField(choices=ASSIGNEE_CHOICES, required=False)
    account = forms.CharField(required=False, max_length=128)
    min_age = forms.ChoiceField(choices=AGE_CHOICES, required=False)
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)

    def filters(self) -> dict:
        """The cleaned filters; invalid values are ignored rather than failing the page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: data.get(name) for name in self.fields if data.get(name) not in (None, "")}


class CaseNoteForm(forms.Form):
    text = forms.CharField(label="Note", max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class CaseAttachmentForm(forms.Form):
    file = forms.FileField(label="File")


class CaseLinkForm(forms.Form):
    by = forms.ChoiceField(
        label="Link by", choices=[("merchant", "Merchant"), ("device", "Device"), ("account", "Account")]
    )
    value = forms.CharField(label="Value", max_length=128)


class CaseDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=DECISIONS, widget=forms.RadioSelect)
    note = forms.CharField(required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))
    scope = forms.ChoiceField(choices=[("selected", "The selected items"), ("all", "All its items still to decide")])
    items = IdsField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("scope") == "selected" and not data.get("items"):
            self.add_error("items", "Select at least one item, or apply the decision to all of them.")
        return data
