"""Admin of lists (registered when rules.admin is imported)."""
