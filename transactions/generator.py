"""A synthetic card-transaction world with labelled injected anomalies, deterministic for a seed.

Plain Python and numpy (no Django): accounts live somewhere, spend at their own level, at their own hours, mostly at
their favourite merchants; merchants have a category, a place and terminals. About 1.5% of the rows are injected
anomalies of five kinds, labelled 1 and named in `anomaly_type`.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

ANOMALY_TYPES = ("stolen_card_far_away", "amount_spike", "rapid_burst", "card_testing", "compromised_merchant")
ANOMALY_SHARES = (0.25, 0.2, 0.2, 0.2, 0.15)
ANOMALY_RATE = 0.015
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)

HOME_CITIES = (
    ("FR", 48.857, 2.352, 5),
    ("FR", 45.764, 4.836, 2),
    ("DE", 52.520, 13.405, 4),
    ("DE", 48.135, 11.582, 2),
    ("ES", 40.417, -3.704, 3),
    ("ES", 41.387, 2.169, 2),
    ("IT", 41.903, 12.496, 3),
    ("IT", 45.464, 9.190, 2),
    ("NL", 52.368, 4.904, 2),
    ("BE", 50.850, 4.352, 1),
    ("PT", 38.722, -9.139, 1),
    ("AT", 48.208, 16.374, 1),
    ("IE", 53.350, -6.260, 1),
)
FAR_CITIES = (
    ("US", 40.713, -74.006),
    ("NG", 6.524, 3.379),
    ("TH", 13.756, 100.502),
    ("BR", -23.551, -46.633),
    ("PH", 14.600, 120.984),
    ("MX", 19.433, -99.133),
)
# name: (median amount, spread of log amount, where it is sold, popularity)
CATEGORIES = {
    "grocery": (38.0, 0.5, "physical", 8),
    "restaurant": (28.0, 0.5, "physical", 5),
    "fuel": (55.0, 0.35, "physical", 3),
    "retail": (60.0, 0.7, "physical", 4),
    "health": (45.0, 0.6, "physical", 1.5),
    "electronics": (180.0, 0.8, "online", 0.8),
    "travel": (320.0, 0.7, "online", 0.6),
    "entertainment": (25.0, 0.6, "online", 2.5),
    "digital_services": (12.0, 0.6, "online", 2.5),
    "cash_withdrawal": (100.0, 0.5, "atm", 2),
}
CATEGORY_NAMES = tuple(CATEGORIES)
CHANNEL_OF_KIND = {"physical": "in_person", "online": "online", "atm": "atm"}


@dataclass
class World:
    """Merchants (columns as arrays) and the pools accounts pick from."""

    merchant_id: np.ndarray
    category: np.ndarray
    kind: np.ndarray
    country: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    terminals: np.ndarray
    pools: dict = field(default_factory=dict)  # (city or -1 for online, category) -> merchant indices


@dataclass
class Account:
    account_id: str
    city: int
    lat: float
    lon: float
    country: str
    spend: float
    rate: float
    weights: np.ndarray
    peak_hour: float
    hour_spread: float
    devices: list[str]
    favourites: dict = field(default_factory=dict)


def generate(
    accounts: int = 500, days: int = 30, seed: int = 0, start: datetime | None = None, ecommerce_share: float = 0.0
) -> pd.DataFrame:
    """Generate the transactions of `accounts` accounts over `days` days, sorted by time.

    Columns: the canonical fields, `label` (1 injected anomaly, 0 normal), `anomaly_type` ('' when normal) and
    `attr_terminal_id`. The same arguments always give the same frame. With `ecommerce_share`, that share of the
    accounts shop online with their billing and shipping places and IP country (`_ecommerce`), and reshipping frauds
    are injected on them; without it the frame is exactly what it was before e-commerce existed.
    """
    rng = np.random.default_rng(seed)
    world = _world(rng, accounts)
    people = [_account(rng, world, number) for number in range(accounts)]
    normal = [_normal_rows(rng, world, person, days) for person in people]
    rows = pd.concat([frame for frame in normal if len(frame)], ignore_index=True)
    rows = pd.concat([rows, _anomalies(rng, world, people, rows, days)], ignore_index=True)
    if ecommerce_share > 0:
        rows = _ecommerce(np.random.default_rng([seed, 1]), world, people, rows, days, ecommerce_share)
    return _finish(rows, world, seed, start or DEFAULT_START)


# ---------------------------------------------------------------- the world


def _world(rng: np.random.Generator, accounts: int) -> World:
    per_city = max(2, accounts // 40)
    parts = [_city_merchants(rng, city, per_city) for city in range(len(HOME_CITIES) + len(FAR_CITIES))]
    parts.append(_online_merchants(rng, max(10, accounts // 25)))
    merged = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    merged["merchant_id"] = np.array([f"M{number:05d}" for number in range(len(merged["category"]))])
    cities = merged.pop("city")
    world = World(**merged)
    for index, (city, category) in enumerate(zip(cities, world.category, strict=True)):
        world.pools.setdefault((int(city), category), []).append(index)
    world.pools = {key: np.array(value) for key, value in world.pools.items()}
    return world


def _city(city: int) -> tuple[str, float, float]:
    if city < len(HOME_CITIES):
        return HOME_CITIES[city][:3]
    return FAR_CITIES[city - len(HOME_CITIES)]


def _city_merchants(rng: np.random.Generator, city: int, per_category: int) -> dict:
    country, lat, lon = _city(city)
    categories = [name for name, spec in CATEGORIES.items() if spec[2] != "online"]
    category = np.repeat(categories, per_category)
    count = len(category)
    return {
        "category": category,
        "kind": np.array([CATEGORIES[name][2] for name in category]),
        "country": np.full(count, country),
        "lat": lat + rng.normal(0, 0.04, count),
        "lon": lon + rng.normal(0, 0.06, count),
        "terminals": rng.integers(1, 5, count),
        "city": np.full(count, city),
    }


def _online_merchants(rng: np.random.Generator, per_category: int) -> dict:
    categories = [name for name, spec in CATEGORIES.items() if spec[2] == "online"]
    category = np.repeat(categories, per_category)
    count = len(category)
    return {
        "category": category,
        "kind": np.full(count, "online"),
        "country": np.full(count, ""),
        "lat": np.full(count, np.nan),
        "lon": np.full(count, np.nan),
        "terminals": np.ones(count, dtype=int),
        "city": np.full(count, -1),
    }


def _account(rng: np.random.Generator, world: World, number: int) -> Account:
    popularity = np.array([city[3] for city in HOME_CITIES], dtype=float)
    city = int(rng.choice(len(HOME_CITIES), p=popularity / popularity.sum()))
    country, lat, lon = _city(city)
    base = np.array([spec[3] for spec in CATEGORIES.values()], dtype=float)
    person = Account(
        account_id=f"A{number:06d}",
        city=city,
        lat=lat + float(rng.normal(0, 0.05)),
        lon=lon + float(rng.normal(0, 0.07)),
        country=country,
        spend=float(rng.lognormal(0, 0.45)),
        rate=float(rng.gamma(2.0, 0.8) + 0.3),
        weights=rng.dirichlet(base * 2),
        peak_hour=float(np.clip(rng.normal(15, 3), 8, 21)),
        hour_spread=float(rng.uniform(1.5, 4.0)),
        devices=[f"D{number:06d}-{k}" for k in range(int(rng.integers(1, 3)))],
    )
    for category in CATEGORY_NAMES:
        pool = world.pools[(-1 if CATEGORIES[category][2] == "online" else city, category)]
        person.favourites[category] = rng.choice(pool, size=min(len(pool), int(rng.integers(1, 4))), replace=False)
    return person


# ---------------------------------------------------------------- normal traffic


def _normal_rows(rng: np.random.Generator, world: World, person: Account, days: int) -> pd.DataFrame:
    count = int(rng.poisson(person.rate * days))
    day = rng.integers(0, days, count)
    hour = np.mod(rng.normal(person.peak_hour, person.hour_spread, count), 24)
    seconds = day * 86400.0 + hour * 3600.0
    category = rng.choice(len(CATEGORY_NAMES), size=count, p=person.weights)
    merchant = np.array([_pick_merchant(rng, world, person, CATEGORY_NAMES[c]) for c in category], dtype=int)
    amount = _amounts(rng, world.category[merchant], person.spend)
    return _rows(rng, world, person, seconds, merchant, amount, label=0, anomaly_type="")


def _pick_merchant(rng: np.random.Generator, world: World, person: Account, category: str) -> int:
    if rng.random() < 0.06:  # now and then somewhere new, still nearby
        online = CATEGORIES[category][2] == "online"
        return int(rng.choice(world.pools[(-1 if online else person.city, category)]))
    return int(rng.choice(person.favourites[category]))


def _amounts(rng: np.random.Generator, categories: np.ndarray, spend: float, factor=1.0) -> np.ndarray:
    median = np.array([CATEGORIES[c][0] for c in categories]) * spend * factor
    sigma = np.array([CATEGORIES[c][1] for c in categories])
    amount = rng.lognormal(np.log(median), sigma)
    cash = categories == "cash_withdrawal"
    amount[cash] = np.maximum(20, np.round(amount[cash] / 20) * 20)
    return np.round(np.maximum(amount, 0.5), 2)


def _rows(rng, world: World, person: Account, seconds, merchant, amount, *, label: int, anomaly_type: str, device=None):
    kind = world.kind[merchant]
    online = kind == "online"
    count = len(merchant)
    lat = np.where(online, person.lat + rng.normal(0, 0.02, count), world.lat[merchant])
    lon = np.where(online, person.lon + rng.normal(0, 0.02, count), world.lon[merchant])
    devices = np.array([device or person.devices[int(k)] for k in rng.integers(0, len(person.devices), count)])
    terminal = rng.integers(1, world.terminals[merchant] + 1)
    return pd.DataFrame(
        {
            "seconds": seconds,
            "account_id": person.account_id,
            "amount": amount,
            "merchant": merchant,
            "channel": [CHANNEL_OF_KIND[k] for k in kind],
            "latitude": lat,
            "longitude": lon,
            "location_distance_km": _haversine_km(person.lat, person.lon, lat, lon),
            "country": np.where(online, person.country, world.country[merchant]),
            "device_id": np.where(online, devices, ""),
            "terminal": np.where(online, 0, terminal),
            "label": label,
            "anomaly_type": anomaly_type,
        }
    )


def _haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    lat1, lon1, lat2, lon2 = map(np.radians, (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return np.round(2 * 6371.0 * np.arcsin(np.sqrt(a)), 3)


# ---------------------------------------------------------------- injected anomalies


def _anomalies(rng: np.random.Generator, world: World, people: list[Account], normal: pd.DataFrame, days: int):
    baseline = normal.groupby("account_id")["amount"].median().to_dict()
    budget = ANOMALY_RATE * len(normal) / (1 - ANOMALY_RATE)
    injectors = (_stolen_card, _amount_spike, _rapid_burst, _card_testing, _compromised_merchant)
    frames = []
    for inject, share in zip(injectors, ANOMALY_SHARES, strict=True):
        made = 0
        while made < share * budget:
            person = people[int(rng.integers(len(people)))]
            room = share * budget - made
            frame = inject(rng, world, person, people, days, baseline.get(person.account_id, 40.0), room)
            frames.append(frame)
            made += len(frame)
    return pd.concat(frames, ignore_index=True) if frames else normal.iloc[:0]


def _window(rng: np.random.Generator, days: int, length_s: float, count: int) -> np.ndarray:
    start = rng.uniform(0, max(days * 86400.0 - length_s, 1.0))
    return start + np.sort(rng.uniform(0, length_s, count))


def _stolen_card(rng, world, person, people, days, baseline, room):
    city = int(rng.integers(len(HOME_CITIES), len(HOME_CITIES) + len(FAR_CITIES)))
    count = int(rng.integers(1, 5))
    merchant = np.array(
        [rng.choice(world.pools[(city, rng.choice(["retail", "cash_withdrawal", "restaurant"]))]) for _ in range(count)]
    )
    amount = _amounts(rng, world.category[merchant], person.spend, factor=rng.uniform(2, 4))
    seconds = _window(rng, days, 6 * 3600, count)
    return _rows(rng, world, person, seconds, merchant, amount, label=1, anomaly_type="stolen_card_far_away")


def _amount_spike(rng, world, person, people, days, baseline, room):
    merchant = np.array([_pick_merchant(rng, world, person, str(rng.choice(["electronics", "retail", "travel"])))])
    amount = np.round([baseline * rng.uniform(8, 20)], 2)
    seconds = _window(rng, days, 3600, 1)
    return _rows(rng, world, person, seconds, merchant, amount, label=1, anomaly_type="amount_spike")


def _online_pool(world: World) -> np.ndarray:
    return np.flatnonzero(world.kind == "online")


def _rapid_burst(rng, world, person, people, days, baseline, room):
    count = int(rng.integers(6, 16))
    merchant = rng.choice(_online_pool(world), size=count)
    amount = np.round(baseline * rng.uniform(0.5, 2.0, count), 2)
    seconds = _window(rng, days, rng.uniform(300, 1200), count)
    device = f"X{int(rng.integers(10**8)):08d}"
    return _rows(rng, world, person, seconds, merchant, amount, label=1, anomaly_type="rapid_burst", device=device)


def _card_testing(rng, world, person, people, days, baseline, room):
    count = int(rng.integers(5, 13))
    known = np.concatenate(list(person.favourites.values()))
    fresh = np.setdiff1d(_online_pool(world), known)
    merchant = rng.choice(fresh, size=min(count, len(fresh)), replace=False)
    amount = np.round(rng.uniform(0.5, 3.0, len(merchant)), 2)
    seconds = _window(rng, days, rng.uniform(1800, 7200), len(merchant))
    device = f"X{int(rng.integers(10**8)):08d}"
    return _rows(rng, world, person, seconds, merchant, amount, label=1, anomaly_type="card_testing", device=device)


def _compromised_merchant(rng, world, person, people, days, baseline, room):
    merchant = int(rng.choice(world.pools[(person.city, str(rng.choice(["retail", "restaurant", "fuel"])))]))
    neighbours = [other for other in people if other.city == person.city] or people
    wanted = min(int(rng.integers(8, 26)), max(3, int(room / 1.5)))  # small worlds get small breaches
    victims = rng.choice(len(neighbours), size=min(len(neighbours), wanted), replace=False)
    start = rng.uniform(0, max(days - 10, 1) * 86400.0)
    # Within the generated days: a world of 10 days or fewer may get a shorter breach (the cap takes no extra draws,
    # so a world of 11 days or more, the demo's 45 among them, is the same for a seed as without it).
    length = min(rng.uniform(3, 10) * 86400.0, max(days * 86400.0 - start, 1.0))
    frames = []
    for victim in (neighbours[int(v)] for v in victims):
        count = int(rng.integers(1, 3))
        seconds = start + np.sort(rng.uniform(0, length, count))
        amount = _amounts(rng, world.category[[merchant] * count], victim.spend, factor=rng.uniform(1, 3))
        frames.append(
            _rows(
                rng,
                world,
                victim,
                seconds,
                np.full(count, merchant),
                amount,
                label=1,
                anomaly_type="compromised_merchant",
            )
        )
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- e-commerce: billing, shipping, IP country

RESHIPPING_RATE = 0.015  # reshipping frauds per e-commerce order (card-not-present fraud runs high)
DROP_CITIES = 6  # reshippers' drop addresses, each used for several stolen cards


def _ecommerce(rng, world: World, people: list[Account], rows: pd.DataFrame, days: int, share: float) -> pd.DataFrame:
    """A share of the accounts shop online as e-commerce customers: each online order carries the billing place (the
    account's home, its postal code and country), a shipping place (home, now and then a second address of the
    same city) and the IP's country (home, rarely abroad). Reshipping frauds come on top: a stolen card's details
    used for a few dear orders within days, billed to the card holder's home but shipped to a reshipper's drop
    address (one drop serves several cards), from an IP abroad; labelled `reshipping`."""
    shoppers = [person for person in people if rng.random() < share]
    if not shoppers:
        return rows
    homes = {p.account_id: (p, f"{p.city:02d}{int(rng.integers(0, 1000)):03d}") for p in shoppers}
    rows = rows.copy()
    online = (rows["channel"] == "online") & rows["account_id"].isin(homes)
    for account_id, index in rows.index[online].groupby(rows.loc[online, "account_id"]).items():
        person, postal = homes[account_id]
        _place_orders(rng, rows, index, person, postal)
    fraud = _reshipping(rng, world, homes, int(online.sum()), days)
    return pd.concat([rows, fraud], ignore_index=True) if len(fraud) else rows


def _place_orders(rng, rows: pd.DataFrame, index, person: Account, postal: str, ship_to=None, ip=None) -> None:
    count = len(index)
    rows.loc[index, "billing_latitude"] = person.lat
    rows.loc[index, "billing_longitude"] = person.lon
    rows.loc[index, "billing_postal_code"] = postal
    rows.loc[index, "billing_country"] = person.country
    if ship_to is None:
        second = rng.random(count) < 0.1  # a second address in the same city: work, family
        rows.loc[index, "shipping_latitude"] = person.lat + np.where(second, rng.normal(0, 0.05, count), 0.0)
        rows.loc[index, "shipping_longitude"] = person.lon + np.where(second, rng.normal(0, 0.07, count), 0.0)
        rows.loc[index, "shipping_postal_code"] = np.where(second, f"{postal[:2]}9{postal[3:]}", postal)
        rows.loc[index, "shipping_country"] = person.country
    else:
        country, lat, lon, drop_postal = ship_to
        rows.loc[index, "shipping_latitude"] = lat
        rows.loc[index, "shipping_longitude"] = lon
        rows.loc[index, "shipping_postal_code"] = drop_postal
        rows.loc[index, "shipping_country"] = country
    if ip is None:
        abroad = rng.random(count) < 0.03  # on holiday
        ip = np.where(abroad, rng.choice([city[0] for city in HOME_CITIES], count), person.country)
    rows.loc[index, "ip_country"] = ip


def _reshipping(rng, world: World, homes: dict, orders: int, days: int) -> pd.DataFrame:
    drops = []
    for number in range(DROP_CITIES):
        city = int(rng.integers(0, len(HOME_CITIES) + len(FAR_CITIES)))
        country, lat, lon = _city(city)
        drops.append((country, lat + rng.normal(0, 0.05), lon + rng.normal(0, 0.07), f"D{number:04d}"))
    shoppers = list(homes.values())
    frames, wanted = [], max(3, int(RESHIPPING_RATE * orders))
    pool = np.concatenate([world.pools[(-1, c)] for c in ("electronics", "entertainment") if (-1, c) in world.pools])
    while sum(len(f) for f in frames) < wanted:
        person, postal = shoppers[int(rng.integers(len(shoppers)))]
        count = int(rng.integers(2, 5))
        merchant = rng.choice(pool, size=count)
        amount = _amounts(rng, world.category[merchant], 1.0, factor=rng.uniform(1.5, 3.0))
        seconds = _window(rng, days, rng.uniform(1, 4) * 86400, count)
        frame = _rows(rng, world, person, seconds, merchant, amount, label=1, anomaly_type="reshipping")
        drop = drops[int(rng.integers(len(drops)))]
        ip = drop[0] if rng.random() < 0.5 else _city(int(rng.integers(len(HOME_CITIES), len(HOME_CITIES) + 6)))[0]
        _place_orders(rng, frame, frame.index, person, postal, ship_to=drop, ip=ip)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- the frame


PLACE_FLOATS = ("billing_latitude", "billing_longitude", "shipping_latitude", "shipping_longitude")
PLACE_TEXTS = ("billing_postal_code", "billing_country", "shipping_postal_code", "shipping_country", "ip_country")


def _places(rows: pd.DataFrame) -> dict[str, pd.Series]:
    """The card-not-present places: those of the e-commerce orders, none (NaN, "") for every other row."""
    out = {}
    for name in PLACE_FLOATS:
        out[name] = rows[name].round(5) if name in rows else pd.Series(np.nan, index=rows.index)
    for name in PLACE_TEXTS:
        out[name] = rows[name].fillna("").astype("str") if name in rows else pd.Series("", index=rows.index)
    return out


def _finish(rows: pd.DataFrame, world: World, seed: int, start: datetime) -> pd.DataFrame:
    rows = rows.sort_values(["seconds", "account_id"], kind="mergesort", ignore_index=True)
    merchant_id = world.merchant_id[rows["merchant"].to_numpy()]
    terminal = rows["terminal"].to_numpy()
    moment = pd.Timestamp(start).tz_convert(UTC) if pd.Timestamp(start).tzinfo else pd.Timestamp(start, tz=UTC)
    frame = pd.DataFrame(
        {
            "transaction_id": [f"G{seed}-{number:08d}" for number in range(len(rows))],
            "timestamp": (moment + pd.to_timedelta(np.floor(rows["seconds"].to_numpy()), unit="s")).astype(
                "datetime64[us, UTC]"
            ),
            "account_id": rows["account_id"].astype("str"),
            "amount": rows["amount"].astype("float64"),
            "currency": "EUR",
            "merchant_id": merchant_id,
            "merchant_category": world.category[rows["merchant"].to_numpy()],
            "channel": rows["channel"].astype("str"),
            "latitude": rows["latitude"].round(5),
            "longitude": rows["longitude"].round(5),
            "location_distance_km": rows["location_distance_km"],
            "country": rows["country"].astype("str"),
            "device_id": rows["device_id"].astype("str"),
            **_places(rows),
            "label": rows["label"].astype("int64"),
            "anomaly_type": rows["anomaly_type"].astype("str"),
            "attr_terminal_id": [
                f"{m}-WEB" if t == 0 else f"{m}-T{t}" for m, t in zip(merchant_id, terminal, strict=True)
            ],
        }
    )
    return frame
