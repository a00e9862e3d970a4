from django.apps import AppConfig


class RulesConfig(AppConfig):
    """The organisation's policy beside the models: lists of values, rules over transactions, and the decision."""

    name = "rules"
    verbose_name = "Rules and lists"
