"""Admin of policy (registered when rules.admin is imported)."""
