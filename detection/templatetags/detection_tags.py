"""Formatting for the detection pages: shares as percentages, a model version's headline metrics."""

from numbers import Number

from django import template

register = template.Library()

MAX_METRICS = 8


@register.filter
def pct(value, digits: int = 1) -> str:
    """0.1234 -> "12.3%"; None (nothing known) -> "—"."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def num(value, digits: int = 3) -> str:
    if value is None or value == "":
        return "—"
    return f"{float(value):.{int(digits)}f}"


@register.filter
def metric_items(metrics) -> list[tuple[str, str]]:
    """The scalar entries of a version's metrics JSON, readable, at most MAX_METRICS of them."""
    items = []
    for key, value in (metrics or {}).items():
        if isinstance(value, bool) or not isinstance(value, Number | str):
            continue
        shown = f"{value:,.4g}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
        items.append((key.replace("_", " "), shown))
    return items[:MAX_METRICS]


@register.filter
def index(sequence, i):
    return sequence[i]


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)


@register.filter
def field_label(form, name: str) -> str:
    """A form field's label, for an error named by its field."""
    field = form.fields.get(name)
    return str(field.label) if field is not None and field.label else name.replace("_", " ").capitalize()
