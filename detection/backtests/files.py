"""Read a labelled file (CSV or Parquet) straight into the engine's frame, for the backtest: no database.

``--map canonical=column`` names the file's column for each canonical field; ``--attributes`` adds the sender's
extra fields; excluded columns are never read (only the named columns are loaded).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from detection.engine.frame import PLACE_COLUMNS, PLACE_FLOAT, PLACE_TEXT
from detection.frame_fields import ENGINE_FIELDS
from transactions.files import MappingError, same_name_mapping
from transactions.validation import REQUIRED as INGEST_REQUIRED

# The fields the engine reads (the label is named apart); a replayed file is never stored, so it needs no ids.
# With the card-not-present places, which a file's frame carries when mapped (stored rows' frames do not yet).
CANONICAL = (*(name for name in ENGINE_FIELDS if name != "label"), *PLACE_COLUMNS)
REQUIRED = tuple(name for name in INGEST_REQUIRED if name != "transaction_id")
_CHANNEL_WORDS = {"online": "online", "in_person": "in_person", "atm": "atm", "pos": "in_person", "web": "online"}


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        canonical, _, column = pair.partition("=")
        if canonical not in CANONICAL or not column:
            raise MappingError(f"--map {pair!r}: expected canonical=column with canonical in {', '.join(CANONICAL)}")
        mapping[canonical] = column
    missing = [name for name in REQUIRED if name not in mapping]
    if missing:
        raise MappingError(f"--map must name a column for {', '.join(missing)}")
    return mapping


def same_name_pairs(path: str | Path) -> list[str]:
    """`canonical=canonical` for each canonical field the file has a column of that name for (a file in the
    canonical shape, such as an archived month, needs no --map)."""
    if not Path(path).exists():
        raise MappingError(f"--input {path}: no such file")
    return [f"{name}={name}" for name in same_name_mapping(path, CANONICAL)]


def read_columns(path: str | Path, columns: list[str]) -> pd.DataFrame:
    path = Path(path)
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path, columns=columns)
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, usecols=columns)
    raise MappingError(f"{path.name}: only .csv and .parquet files are read")


def load_frame(
    path: str | Path,
    *,
    mapping: dict[str, str],
    label: str,
    attributes: list[str] = (),
    exclude: list[str] = (),
    split_column: str | None = None,
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The engine frame (true labels in ``label``) and the split column's values, if one is named."""
    wanted = [*mapping.values(), label, *attributes, *([split_column] if split_column else [])]
    clash = sorted(set(wanted) & set(exclude))
    if clash:
        raise MappingError(f"excluded columns may not be used: {', '.join(clash)}")
    raw = read_columns(path, list(dict.fromkeys(wanted)))
    frame = pd.DataFrame({"row_id": np.arange(len(raw), dtype=np.int64)})
    frame["ts"] = _epoch_seconds(raw[mapping["timestamp"]])
    frame["account_id"] = raw[mapping["account_id"]].astype(str).to_numpy(dtype=object)
    frame["merchant_id"] = _text(raw, mapping.get("merchant_id"))
    frame["amount"] = pd.to_numeric(raw[mapping["amount"]]).astype(np.float64).to_numpy()
    frame["channel"] = _channel(raw[mapping["channel"]]) if "channel" in mapping else "other"
    for name in ("country", "merchant_category"):
        frame[name] = _text(raw, mapping.get(name))
    for name in ("latitude", "longitude", "location_distance_km"):
        column = mapping.get(name)
        frame[name] = pd.to_numeric(raw[column], errors="coerce").to_numpy() if column else np.nan
    for name in PLACE_FLOAT:  # card-not-present places: only those mapped (the frame has none of the others)
        if name in mapping:
            frame[name] = pd.to_numeric(raw[mapping[name]], errors="coerce").to_numpy()
    for name in PLACE_TEXT:  # codes as the ingest rules store them: trimmed, countries upper case
        if name in mapping:
            text = raw[mapping[name]].astype(object).fillna("").astype(str).str.strip()
            frame[name] = (text.str.upper() if name.endswith("_country") else text).to_numpy(dtype=object)
    for name in attributes:
        frame[f"attr_{name}"] = raw[name].to_numpy()
    frame["label"] = pd.to_numeric(raw[label], errors="coerce").astype(np.float64).to_numpy()
    frame["label_known_ts"] = np.nan
    split = raw[split_column].astype(str).to_numpy() if split_column else None
    return frame, split


def _epoch_seconds(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(np.int64).to_numpy()
    parsed = pd.to_datetime(values, utc=True)
    return ((parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).astype(np.int64).to_numpy()


def _text(raw: pd.DataFrame, column: str | None):
    return "" if column is None else raw[column].fillna("").astype(str).to_numpy(dtype=object)


def _channel(values: pd.Series) -> np.ndarray:
    """A 0/1 column (``is_online``) maps 1 to online and 0 to in_person; words map to the canonical channels."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and set(numeric.unique()) <= {0, 1}:
        return np.where(numeric.to_numpy() == 1, "online", "in_person").astype(object)
    words = values.fillna("").astype(str).str.strip().str.lower().str.replace(" ", "_").str.replace("-", "_")
    return words.map(lambda w: _CHANNEL_WORDS.get(w, "other")).to_numpy(dtype=object)
