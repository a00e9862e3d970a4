"""A bulk job's result CSV carries each row's decision and the rules that matched it."""

import csv
import io

import pytest

from rules.deciding.ruleset import rule_sets_forget
from tests.detection.jobs.jobs_data import csv_upload, job_frame
from tests.detection.jobs.test_jobs import URL, run_job, upload
from tests.factories import RiskPolicyFactory, RuleFactory, RuleVersionFactory


@pytest.fixture
def block_rule(db):
    RiskPolicyFactory(review_threshold=1.0)
    version = RuleVersionFactory(
        rule=RuleFactory(name="watched_account"), expression='account_id == "acct-003"', action="block", status="active"
    )
    rule_sets_forget()
    return version


def test_the_result_csv_has_decision_and_rules_columns(scorer, active_model, block_rule):
    job_id = upload(scorer, csv_upload(job_frame(12, bad=False))).json()["id"]
    run_job(job_id)

    response = scorer.get(f"{URL}/{job_id}/result.csv")

    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines()[0].split(",")[-2:] == ["decision", "rules"]
    rows = list(csv.DictReader(io.StringIO(text)))
    blocked = {r["transaction_id"] for r in rows if r["decision"] == "block"}
    assert blocked == {"J0000004"}  # the 4th row is acct-003's
    assert {r["rules"] for r in rows if r["transaction_id"] in blocked} == {"watched_account v1 (block)"}
    assert {(r["decision"], r["rules"]) for r in rows if r["transaction_id"] not in blocked} == {("allow", "")}
