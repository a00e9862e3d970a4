"""`manage.py rule_test NAME --days N --json OUT [--organisation ORG]`: the test on history from the shell."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command

from rules.models import RuleTest
from tests.factories import TransactionFactory
from tests.rules.testing.conftest import UNTIL, draft


@time_machine.travel(UNTIL, tick=False)
def test_the_command_writes_the_report_as_json_and_records_the_test(organisation, known_history, tmp_path, capsys):
    version = draft(organisation)
    out = tmp_path / "report.json"

    call_command("rule_test", "big", "--days", "7", "--json", str(out), "--organisation", organisation.name)

    report = json.loads(out.read_text())
    assert (report["rule"], report["version"], report["rows"], report["hits"]) == ("big", 1, 10, 5)
    assert (report["fraud"], report["legitimate"], report["precision"]) == (2, 2, 0.5)
    assert [day["hits"] for day in report["per_day"]] == [2, 1, 2]
    assert "5 hits of 10 transactions" in capsys.readouterr().out
    test = RuleTest.objects.get()
    assert (test.rule_version, test.status, test.created_by) == (version, "done", None)


@time_machine.travel(UNTIL, tick=False)
def test_the_only_organisation_is_taken_when_none_is_named(organisation, tmp_path):
    TransactionFactory(timestamp=UNTIL - timedelta(hours=1), amount=Decimal("600"))
    draft(organisation)

    call_command("rule_test", "big", "--days", "7", "--json", str(tmp_path / "r.json"))

    assert json.loads((tmp_path / "r.json").read_text())["hits"] == 1


def test_an_unknown_rule_is_an_error(organisation):
    with pytest.raises(CommandError, match="no rule named 'nope'"):
        call_command("rule_test", "nope", "--organisation", organisation.name)


def test_another_organisations_rule_is_not_found(organisation, other_organisation):
    draft(organisation)

    with pytest.raises(CommandError, match="no rule named 'big'"):
        call_command("rule_test", "big", "--organisation", other_organisation.name)


def test_days_out_of_range_are_refused(organisation):
    draft(organisation)

    with pytest.raises(CommandError, match="--days"):
        call_command("rule_test", "big", "--days", "0", "--organisation", organisation.name)
