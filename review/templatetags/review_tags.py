from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def short_age(value: timedelta | None) -> str:
    """A compact duration for tables: 45s, 12m, 3h 05m, 2d 4h."""
    if value is None:
        return ""
    seconds = max(int(value.total_seconds()), 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 60:
        return f"{seconds}s"
    if minutes < 60:
        return f"{minutes}m"
    if hours < 24:
        return f"{hours}h {minutes % 60:02d}m"
    return f"{days}d {hours % 24}h"


@register.filter
def percent(value: float | None) -> str:
    return "" if value is None else f"{float(value) * 100:.0f}%"


@register.filter
def assigned_to(item, user) -> bool:
    return item.assignee_id is not None and item.assignee_id == getattr(user, "pk", None)


@register.filter
def words(value: str) -> str:
    """`isolation_forest` -> `isolation forest`: a machine key read as words."""
    return str(value).replace("_", " ").replace("-", " ")
