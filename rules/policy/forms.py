"""The rule editor's form: a name (for a new rule), the condition, the action and its tag, a description.

The condition is compiled as it is cleaned (rules.policy.services.expression_compile): an invalid one is the
field's error, naming the position and the reason, and `expression_error` keeps the error for the page to mark.
"""

from django import forms

from rules.models import Action, name_validator
from rules.policy import services

TEST_DAYS_MAX = 365


class RuleForm(forms.Form):
    name = forms.CharField(
        max_length=63,
        validators=[name_validator],
        help_text="Lower-case letters, digits and underscores; how the rule is named in answers and reasons.",
    )
    expression = forms.CharField(
        label="Condition",
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false", "autocomplete": "off", "class": "mono"}),
        help_text="When it holds, the rule matches. Names complete as you type (Tab or Enter to take one).",
    )
    action = forms.ChoiceField(choices=Action.choices, initial=Action.REVIEW)
    tag = forms.CharField(
        max_length=63, required=False, help_text="For a tag rule: the label it adds to the answer (its name if blank)."
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    def __init__(self, *args, organisation_id: int, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation_id = organisation_id
        self.expression_error: services.ExpressionError | None = None
        if editing:
            del self.fields["name"]

    def clean_expression(self) -> str:
        expression = self.cleaned_data["expression"]
        try:
            services.expression_compile(organisation_id=self.organisation_id, expression=expression)
        except services.ExpressionError as exc:
            self.expression_error = exc
            raise forms.ValidationError(str(exc), code="invalid_expression") from exc
        return expression

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("tag") and cleaned.get("action") != Action.TAG:
            self.add_error("tag", "Only a tag rule carries a tag.")
        return cleaned

    def refuse(self, exc: Exception) -> None:
        """Show a refusal of the service (a name taken meanwhile, say) as the field's error."""
        if isinstance(exc, services.ExpressionError):
            self.expression_error = exc
            self.add_error("expression", str(exc))
        else:
            self.add_error(exc.field if exc.field in self.fields else None, exc.reason)


class RuleTestForm(forms.Form):
    days = forms.IntegerField(
        min_value=1, max_value=TEST_DAYS_MAX, initial=30, help_text="Run on the stored transactions of the last N days."
    )


class PublishForm(forms.Form):
    untested = forms.BooleanField(required=False, label="Publish without a test on history (I know what it will match)")
