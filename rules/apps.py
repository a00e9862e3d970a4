from django.apps import AppConfig


class RulesConfig(AppConfig):
    """The organisation's policy beside the models: lists of values, rules over transactions, and the decision."""

    name = "rules"
    verbose_name = "Rules and lists"

    def ready(self) -> None:
        from detection.scoring.deciding import decider_register
        from detection.scoring.events import scores_stored_subscribe
        from rules.deciding import decide_batch
        from rules.deciding.metrics import decisions_count_stored, scores_distribution_stored

        # Scoring (in detection, which may not import this app) asks the rules in force for each batch's decisions.
        decider_register(decide_batch)
        scores_stored_subscribe(decisions_count_stored)
        scores_stored_subscribe(scores_distribution_stored)
