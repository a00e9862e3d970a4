"""What the transaction page shows of a card-not-present order: where it was billed, where the goods went, the
customer's IP country, and the facts an analyst reads from them (the detection features' own rules, in words)."""

import math
from dataclasses import dataclass

from transactions.models import Transaction

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Place:
    postal_code: str
    country: str
    latitude: float | None
    longitude: float | None

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    def __bool__(self) -> bool:
        return bool(self.postal_code or self.country or self.located)

    def __str__(self) -> str:
        named = " ".join(part for part in (self.postal_code, self.country) if part)
        point = f"{self.latitude:.4f}, {self.longitude:.4f}" if self.located else ""
        return f"{named} ({point})" if named and point else named or point


@dataclass(frozen=True)
class CardNotPresent:
    billing: Place
    shipping: Place
    ip_country: str

    @property
    def billing_shipping_km(self) -> float | None:
        """Kilometres between the billing and the shipping point; None without both."""
        if not (self.billing.located and self.shipping.located):
            return None
        points = (self.billing.latitude, self.billing.longitude, self.shipping.latitude, self.shipping.longitude)
        lat1, lon1, lat2, lon2 = map(math.radians, points)
        h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
        return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(max(h, 0.0), 1.0)))

    @property
    def ip_differs(self) -> bool:
        """The IP's country and the billing country both given, and not the same."""
        return bool(self.ip_country and self.billing.country and self.ip_country != self.billing.country)


def card_not_present(transaction: Transaction) -> CardNotPresent | None:
    """The order's places, or None when the sender gave none (most give none)."""

    def place(prefix: str) -> Place:
        return Place(
            postal_code=getattr(transaction, f"{prefix}_postal_code"),
            country=getattr(transaction, f"{prefix}_country"),
            latitude=getattr(transaction, f"{prefix}_latitude"),
            longitude=getattr(transaction, f"{prefix}_longitude"),
        )

    found = CardNotPresent(billing=place("billing"), shipping=place("shipping"), ip_country=transaction.ip_country)
    return found if found.billing or found.shipping or found.ip_country else None
