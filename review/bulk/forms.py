from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q

from review.bulk.services import ACTIONS

ACTION_LABELS = {
    "fraud": "Decide fraud",
    "legitimate": "Decide legitimate",
    "close": "Close without a decision",
    "release": "Release to the queue",
    "assign": "Assign to",
    "snooze": "Snooze until",
}


class IdsField(forms.Field):
    """Row ids from checkboxes (or hidden inputs): whole numbers; which of them the caller may touch is the
    selectors' business."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        if not value:
            return []
        try:
            return sorted({int(v) for v in value})
        except (TypeError, ValueError) as exc:
            raise forms.ValidationError("Rows: the ids must be whole numbers.") from exc


def assignable_users(organisation_id: int | None):
    """The organisation's people who may decide (analysts, leads, admins): whom work can be given to."""
    users = get_user_model().objects.filter(is_active=True, memberships__organisation_id=organisation_id)
    may_decide = (
        Q(is_superuser=True)
        | Q(groups__permissions__codename="decide_reviewitem")
        | Q(user_permissions__codename="decide_reviewitem")
    )
    return users.filter(may_decide).distinct().order_by("username")


class BulkForm(forms.Form):
    """A bulk action on the selected rows (`ids`) or on every row matching the page's filters (`all_matching`, the
    filters given as `query`, the page's query string). `confirm` is set once the count has been confirmed."""

    action = forms.ChoiceField(choices=[(a, ACTION_LABELS[a]) for a in ACTIONS])
    ids = IdsField(required=False)
    all_matching = forms.BooleanField(required=False)
    query = forms.CharField(required=False, max_length=2000)
    assignee = forms.ModelChoiceField(queryset=None, required=False, label="Assign to")
    until = forms.DateTimeField(
        required=False,
        label="Snooze until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    reason = forms.CharField(required=False, max_length=500, label="Reason")
    note = forms.CharField(required=False, max_length=4000, label="Note")
    confirm = forms.BooleanField(required=False)
    next = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args, organisation_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users(organisation_id)

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if not data.get("all_matching") and not data.get("ids"):
            raise forms.ValidationError("Select at least one row, or choose all that match the filters.")
        if action == "assign" and not data.get("assignee"):
            self.add_error("assignee", "Assign to: choose an analyst.")
        if action == "snooze":
            if not data.get("until"):
                self.add_error("until", "Snooze until: give a date and time.")
            if not (data.get("reason") or "").strip():
                self.add_error("reason", "Reason: say why.")
        return data
