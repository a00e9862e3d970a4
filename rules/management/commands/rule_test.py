"""Test a rule on history from the shell: its latest version over the last N days of stored transactions, here
(not on a worker), recorded as the rule's test and written as JSON."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.selectors import NoOrganisation, organisation_by_name
from rules.models import Rule, RuleTest
from rules.policy.forms import TEST_DAYS_MAX
from rules.policy.selectors import rule_get_by_name, rule_latest_version
from rules.testing.services import rule_test_create, rule_test_execute


class Command(BaseCommand):
    help = "Run a rule's latest version over the last N days of an organisation's stored transactions (a report)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The rule's name.")
        parser.add_argument("--days", type=int, default=30, help="The last N days of stored transactions (30).")
        parser.add_argument("--json", dest="json_path", help="Write the report here as JSON.")
        parser.add_argument(
            "--organisation", help="The organisation whose rule and transactions (default: the only one, if one)."
        )

    def handle(self, *args, name, days, json_path, organisation, **options):
        if not 1 <= days <= TEST_DAYS_MAX:
            raise CommandError(f"--days must be between 1 and {TEST_DAYS_MAX}.")
        try:
            organisation = organisation_by_name(organisation)
            rule = rule_get_by_name(organisation_id=organisation.pk, name=name)
        except (NoOrganisation, Rule.DoesNotExist) as exc:
            raise CommandError(str(exc)) from exc
        version = rule_latest_version(rule=rule)
        test = rule_test_create(version=version, days=days, enqueue=False)
        test = rule_test_execute(test_id=test.pk)
        if test.status != RuleTest.Status.DONE:
            raise CommandError(f"The test failed: {test.error}")
        if json_path:
            Path(json_path).write_text(json.dumps({"rule": name, "version": version.version, **test.report}, indent=2))
        report = test.report
        precision = "—" if report["precision"] is None else f"{report['precision']:.3f}"
        self.stdout.write(
            f"{name} v{version.version} over {days} days: {report['hits']:,} hits of {report['rows']:,} transactions, "
            f"{report['fraud']} fraud and {report['legitimate']} legitimate among them (precision {precision}), "
            f"{report['missing']:,} missing a value; {report['seconds']} s" + (f" -> {json_path}" if json_path else "")
        )
