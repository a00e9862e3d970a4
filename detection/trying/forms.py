"""The try page's form: a transaction as an analyst types it, checked against the ingest's own rules."""

from datetime import UTC
from decimal import Decimal

from django import forms
from django.utils import timezone

from detection.engine.frame import PLACE_FLOAT, PLACE_TEXT
from detection.trying.selectors import account_is_stored, versions_trained
from detection.trying.trial import TrialInput
from transactions.models import Channel


class TryForm(forms.Form):
    account_id = forms.CharField(
        label="Account",
        max_length=128,
        help_text="An account of the store: its history gives the features.",
        widget=forms.TextInput(attrs={"list": "account-options", "autocomplete": "off", "placeholder": "Type to find"}),
    )
    amount = forms.DecimalField(label="Amount", min_value=Decimal("0"), max_digits=14, decimal_places=2)
    merchant_id = forms.CharField(label="Merchant", max_length=128, required=False)
    merchant_category = forms.CharField(label="Category", max_length=64, required=False)
    channel = forms.ChoiceField(label="Channel", choices=Channel.choices, initial=Channel.ONLINE)
    timestamp = forms.DateTimeField(
        label="Time (UTC)",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    country = forms.CharField(label="Country", max_length=2, required=False, help_text="Two letters, e.g. FR.")
    latitude = forms.FloatField(label="Latitude", min_value=-90, max_value=90, required=False)
    longitude = forms.FloatField(label="Longitude", min_value=-180, max_value=180, required=False)
    location_distance_km = forms.FloatField(
        label="Km from home", min_value=0, required=False, help_text="If the sender tells it."
    )
    # Card-not-present places (all optional): where the card is billed, where the goods go, the customer's IP country.
    billing_latitude = forms.FloatField(label="Billing latitude", min_value=-90, max_value=90, required=False)
    billing_longitude = forms.FloatField(label="Billing longitude", min_value=-180, max_value=180, required=False)
    billing_postal_code = forms.CharField(label="Billing postal code", max_length=16, required=False)
    billing_country = forms.CharField(label="Billing country", max_length=2, required=False)
    shipping_latitude = forms.FloatField(label="Shipping latitude", min_value=-90, max_value=90, required=False)
    shipping_longitude = forms.FloatField(label="Shipping longitude", min_value=-180, max_value=180, required=False)
    shipping_postal_code = forms.CharField(label="Shipping postal code", max_length=16, required=False)
    shipping_country = forms.CharField(label="Shipping country", max_length=2, required=False)
    ip_country = forms.CharField(label="IP country", max_length=2, required=False)
    compare = forms.ModelChoiceField(
        label="Beside version", queryset=None, required=False, empty_label="— the active version alone —"
    )

    def __init__(self, *args, organisation_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.organisation_id = organisation_id
        self.fields["compare"].queryset = versions_trained(organisation_id=organisation_id).exclude(status="active")
        self.fields["compare"].label_from_instance = lambda v: f"v{v.version} ({v.get_status_display().lower()})"
        self.fields["timestamp"].initial = timezone.now().replace(second=0, microsecond=0)

    @property
    def places_given(self) -> bool:
        """Whether any card-not-present place was typed (the page then shows their fields open)."""
        return any(self[name].value() not in (None, "") for name in (*PLACE_FLOAT, *PLACE_TEXT))

    def clean_account_id(self) -> str:
        account = self.cleaned_data["account_id"].strip()
        if not account_is_stored(organisation_id=self.organisation_id, account_id=account):
            raise forms.ValidationError(f"No transaction of account “{account}” is stored: choose one from the list.")
        return account

    def _country(self, name: str) -> str:
        country = self.cleaned_data[name].strip().upper()
        if country and (len(country) != 2 or not country.isalpha()):
            raise forms.ValidationError("Two letters, e.g. FR.")
        return country

    def clean_country(self) -> str:
        return self._country("country")

    def clean_billing_country(self) -> str:
        return self._country("billing_country")

    def clean_shipping_country(self) -> str:
        return self._country("shipping_country")

    def clean_ip_country(self) -> str:
        return self._country("ip_country")

    def clean(self):
        data = super().clean()
        for place in ("", "billing ", "shipping "):
            prefix = place.replace(" ", "_")
            if (data.get(f"{prefix}latitude") is None) != (data.get(f"{prefix}longitude") is None):
                raise forms.ValidationError(f"Give both the {place}latitude and longitude, or neither.")
        return data

    def trial(self) -> TrialInput:
        data = self.cleaned_data
        at = data["timestamp"]
        at = at if timezone.is_aware(at) else timezone.make_aware(at, UTC)
        return TrialInput(
            account_id=data["account_id"],
            amount=data["amount"],
            timestamp=at,
            merchant_id=data["merchant_id"].strip(),
            merchant_category=data["merchant_category"].strip().lower(),
            channel=data["channel"],
            country=data["country"],
            latitude=data["latitude"],
            longitude=data["longitude"],
            location_distance_km=data["location_distance_km"],
            **{name: data[name] for name in PLACE_FLOAT},
            **{name: data[name].strip() for name in PLACE_TEXT},
        )
