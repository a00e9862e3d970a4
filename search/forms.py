from datetime import UTC, datetime, time, timedelta

from django import forms
from django.utils import timezone

from search.selectors import Criteria, Position

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def position_text(position: Position) -> str:
    """A page's end as the next page's `after`: microseconds since the epoch and the row's id."""
    timestamp, pk = position
    return f"{(timestamp - EPOCH) // MICROSECOND}-{pk}"


def position_parse(text: str) -> Position:
    micros, pk = (int(part) for part in text.split("-"))
    return EPOCH + micros * MICROSECOND, pk


class SearchForm(forms.Form):
    """The search's query string: `q` (a transaction id, account, merchant or device), an amount range, dates
    (inclusive, in the site's time zone) and `after`, where the page before ended."""

    q = forms.CharField(required=False, max_length=128, strip=True, label="Search")
    min_amount = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2, label="Amount from")
    max_amount = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2, label="Amount to")
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
    after = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def clean_after(self) -> Position | None:
        text = self.cleaned_data["after"]
        if not text:
            return None
        try:
            return position_parse(text)
        except (ValueError, OverflowError):
            raise forms.ValidationError("Not a page of these results: start the search again.") from None

    def clean(self) -> dict:
        data = super().clean()
        low, high = data.get("min_amount"), data.get("max_amount")
        if low is not None and high is not None and low > high:
            self.add_error("max_amount", "The amount to must not be below the amount from.")
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and first > last:
            self.add_error("date_to", "The end date must not be before the start date.")
        return data

    def criteria(self) -> Criteria:
        """What to search for (call after is_valid())."""
        data = self.cleaned_data
        return Criteria(
            q=data["q"],
            min_amount=data["min_amount"],
            max_amount=data["max_amount"],
            start=_day_start(data["date_from"]),
            end=_day_start(data["date_to"] + timedelta(days=1)) if data["date_to"] else None,
        )


def _day_start(day) -> datetime | None:
    return None if day is None else timezone.make_aware(datetime.combine(day, time.min))
