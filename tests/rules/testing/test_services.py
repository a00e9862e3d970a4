"""The test on history over a small known history: exact hits, labels, precision, overlaps, missing rows, sample."""

from datetime import timedelta

import pytest
import time_machine

from rules.models import RuleTest
from rules.testing import services
from rules.testing.services import rule_test_create, rule_test_execute, rule_test_run
from tests.factories import ModelVersionFactory, ScoreFactory, ValueListFactory
from tests.rules.testing.conftest import DAY1, UNTIL, active, draft


def run(version, days=7):
    return rule_test_run(version=version, days=days, until=UNTIL)


def test_hits_and_labels_are_counted_exactly(organisation, known_history):
    report = run(draft(organisation))

    assert (report["rows"], report["hits"]) == (10, 5)
    assert (report["fraud"], report["legitimate"], report["unlabelled"]) == (2, 2, 1)
    assert report["precision"] == pytest.approx(0.5)


def test_hits_are_counted_per_day(organisation, known_history):
    report = run(draft(organisation))

    assert report["per_day"] == [
        {"day": "2026-03-07", "hits": 2, "fraud": 1, "legitimate": 1, "rows": 3},
        {"day": "2026-03-08", "hits": 1, "fraud": 1, "legitimate": 0, "rows": 3},
        {"day": "2026-03-09", "hits": 2, "fraud": 0, "legitimate": 1, "rows": 4},
    ]


def test_the_window_reads_only_its_days(organisation, known_history):
    report = run(draft(organisation), days=2)

    assert (report["rows"], report["hits"]) == (7, 3)


def test_overlap_with_the_models_flags_uses_the_stored_scores(organisation, known_history):
    report = run(draft(organisation))

    assert report["model"] == {"review_threshold": 0.95, "flagged": 3, "overlap": 2}


def test_a_rule_reads_the_stored_score_instead_of_rescoring(organisation, known_history):
    report = run(draft(organisation, expression="score >= 0.95"))

    assert report["hits"] == 3
    assert report["missing"] == 4  # never scored: their score is missing


def test_overlap_with_each_active_rule(organisation, known_history):
    active(organisation, "amount > 750", name="huge", action="block")
    active(organisation, "amount < 25", name="tiny", action="allow")

    report = run(draft(organisation))

    overlaps = {rule["name"]: (rule["hits"], rule["overlap"]) for rule in report["rules"]}
    assert overlaps == {"huge": (2, 2), "tiny": (3, 0)}


def test_the_rule_tested_is_not_its_own_overlap(organisation, known_history):
    version = active(organisation, "amount > 500", name="big")

    assert run(version)["rules"] == []


def test_rows_missing_an_attribute_are_counted_and_never_match(organisation, known_history):
    report = run(draft(organisation, expression='attributes.mcc == "7995"'))

    assert (report["hits"], report["missing"]) == (2, 6)


def test_the_sample_holds_the_hits(organisation, known_history):
    report = run(draft(organisation))

    expected = [tx.pk for tx in known_history if tx.amount > 500]
    assert sorted(report["sample"]) == sorted(expected)


def test_the_sample_is_spread_over_many_hits(monkeypatch, organisation, known_history):
    monkeypatch.setattr(services, "SAMPLE_SIZE", 2)

    report = run(draft(organisation))

    assert len(report["sample"]) == 2
    assert report["sample"][0] == known_history[0].pk


def test_rules_reading_computed_features_get_them_from_the_history(organisation, known_history):
    # acct-0 pays known-0 (day 1), known-3 (day 2), known-6 and known-9 (day 3): two before known-6 in 7 days.
    report = run(draft(organisation, expression="count_7d_account >= 2"))

    assert report["features"] is True
    hit_ids = {tx.transaction_id for tx in known_history if tx.pk in report["sample"]}
    assert hit_ids == {"known-6", "known-7", "known-8", "known-9"}


def test_blocks_give_the_same_report(monkeypatch, organisation, known_history):
    whole = run(draft(organisation, expression="count_7d_account >= 2 or amount > 500"))
    monkeypatch.setattr(services, "BLOCK_ROWS", 3)

    blocked = run(draft(organisation, expression="count_7d_account >= 2 or amount > 500", name="again"))

    keys = ("rows", "hits", "fraud", "legitimate", "missing", "per_day", "sample", "model")
    assert {k: blocked[k] for k in keys} == {k: whole[k] for k in keys}


@time_machine.travel(UNTIL, tick=False)
def test_executing_a_test_stores_its_report_and_marks_the_version_tested(organisation, known_history):
    version = draft(organisation)
    test = rule_test_create(version=version, days=7, enqueue=False)

    done = rule_test_execute(test_id=test.pk)

    version.refresh_from_db()
    assert (done.status, done.report["hits"], done.total_rows, done.processed_rows) == ("done", 5, 10, 10)
    assert done.finished_at is not None
    assert version.status == "tested"


def test_a_test_claimed_by_another_worker_is_not_run_twice(organisation, known_history):
    test = rule_test_create(version=draft(organisation), days=7, enqueue=False)
    RuleTest.objects.filter(pk=test.pk).update(status=RuleTest.Status.RUNNING, started_at=UNTIL + timedelta(days=999))

    assert rule_test_execute(test_id=test.pk) is None


def test_a_failing_test_records_why(organisation, known_history):
    blocked = ValueListFactory(organisation=organisation, name="blocked", kind="merchant")
    version = draft(organisation, expression="merchant_id in lists.blocked")
    test = rule_test_create(version=version, days=7, enqueue=False)
    blocked.delete()  # the list went after the rule was saved

    done = rule_test_execute(test_id=test.pk)

    assert done.status == "failed"
    assert "blocked" in done.error


def test_a_window_without_transactions_reports_zero(organisation, known_history):
    report = rule_test_run(version=draft(organisation), days=1, until=DAY1 - timedelta(days=5))

    assert (report["rows"], report["hits"], report["precision"], report["per_day"]) == (0, 0, None, [])


def test_the_models_flag_is_the_newest_stored_score(organisation, known_history):
    newer = ModelVersionFactory(organisation=organisation)
    ScoreFactory(transaction=known_history[0], model_version=newer, score=0.10)  # rescored below the threshold

    report = run(draft(organisation))

    assert report["model"] == {"review_threshold": 0.95, "flagged": 2, "overlap": 1}


@time_machine.travel(UNTIL, tick=False)
def test_the_task_runs_the_test_by_its_id_and_a_rerun_does_nothing(organisation, known_history):
    from rules.testing.tasks import rule_test_task

    test = rule_test_create(version=draft(organisation), days=7, enqueue=False)

    assert rule_test_task(test.pk) == "done"
    assert rule_test_task(test.pk) == "skipped"
    assert RuleTest.objects.get().report["hits"] == 5
