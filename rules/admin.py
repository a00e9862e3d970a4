"""Admin of lists and rules: each part registers its own models."""

from rules.lists import admin as lists_admin  # noqa: F401
from rules.policy import admin as policy_admin  # noqa: F401
