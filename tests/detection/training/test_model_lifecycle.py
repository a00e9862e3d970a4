import gc
from datetime import timedelta

import pytest
from django.db import transaction as db_transaction

from core.bulk_insert import COPY_ABOVE
from core.models import AuditEvent
from detection.engine.detector import ARTIFACT_FORMAT, Detector
from detection.models import ModelVersion, Score
from detection.scoring import registry
from detection.scoring.services import ModelUnloadable, NoActiveModel, score_transactions
from detection.training import services as training
from detection.training.services import model_version_activate
from review.models import ReviewItem
from tests.detection.conftest import START, store_transaction
from tests.factories import AlertRuleFactory, default_organisation


def model_version_train(**options) -> ModelVersion:
    """Train a version of the test organisation, on its transactions."""
    return training.model_version_train(organisation=default_organisation(), **options)


def model_version_stored(**fields) -> ModelVersion:
    return ModelVersion.objects.create(organisation=default_organisation(), **fields)


def active_model():
    return registry.active_model(organisation_id=default_organisation().pk)


@pytest.fixture
def active_version(history):
    version = model_version_train(until=START + timedelta(days=20), seed=0)
    model_version_activate(version=version)
    registry.active_model_changed()
    return ModelVersion.objects.get(pk=version.pk)


def test_training_saves_a_ready_version_with_its_record(history):
    version = model_version_train(seed=0)

    version.refresh_from_db()
    assert version.status == ModelVersion.Status.READY
    assert version.training_rows == len(history)
    assert {"isolation_forest", "autoencoder"} <= set(version.algorithms)
    assert version.feature_names
    assert version.artifact and len(bytes(version.artifact)) > 1000
    assert version.artifact_format == ARTIFACT_FORMAT
    assert version.training_start <= version.training_end


def test_activation_retires_the_previous_version_and_is_audited(history):
    first = model_version_train(seed=0)
    second = model_version_train(seed=1)
    model_version_activate(version=first)
    model_version_activate(version=second)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == ModelVersion.Status.RETIRED
    assert second.status == ModelVersion.Status.ACTIVE
    assert AuditEvent.objects.filter(action="model.activate").count() == 2


def test_a_loaded_model_is_kept_out_of_the_garbage_collectors_walks(active_version):
    detector = active_model().detector
    assert gc.get_freeze_count() > 0
    assert not any(o is detector for o in gc.get_objects())  # frozen: a full collection does not walk it


def test_a_scoring_process_collects_its_young_objects_less_often(active_version):
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        registry._slots.clear()  # the next look loads the model again, as a new process does
        active_model()
        assert gc.get_threshold() == (registry.YOUNG_COLLECTION_AFTER, 10, 10)
    finally:
        gc.set_threshold(*before)


def test_scoring_without_an_active_model_says_so(history):
    registry.active_model_changed()
    with pytest.raises(NoActiveModel):
        score_transactions(transactions=history[:1])


NEWER_ARTIFACT = {"artifact": b"what a newer release writes", "artifact_format": ARTIFACT_FORMAT + 1}


def test_an_active_version_this_release_cannot_read_stops_scoring_and_says_why(active_version, history, monkeypatch):
    # As after a rollback: a newer release trained and activated version 9, which this release cannot read.
    ModelVersion.objects.filter(pk=active_version.pk).update(status=ModelVersion.Status.RETIRED)
    model_version_stored(version=9, status=ModelVersion.Status.ACTIVE, **NEWER_ARTIFACT)
    registry.active_model_changed()
    reads = []
    read = Detector.from_bytes
    monkeypatch.setattr(Detector, "from_bytes", lambda *args: reads.append(1) or read(*args))

    expected = r"Model version 9 is active but cannot be loaded \(model artifact format \d+ was written by a newer"
    for _ in range(2):  # as two requests, each in its own transaction
        registry.active_model_changed()
        with pytest.raises(ModelUnloadable, match=expected), db_transaction.atomic():
            score_transactions(transactions=history[:1])
    assert len(reads) == 1  # read once; not again on every request while it stays active
    assert not Score.objects.exists()

    model_version_activate(version=active_version)  # back to a version it reads
    registry.active_model_changed()  # what the activation's commit does
    assert score_transactions(transactions=history[:1])[0].model_version_id == active_version.pk


def test_a_serving_process_starting_with_an_unreadable_active_version_logs_it_once(db, caplog):
    from anomaly_site.warmup import warm_up_serving_process

    model_version_stored(version=9, status=ModelVersion.Status.ACTIVE, **NEWER_ARTIFACT)
    registry.active_model_changed()
    try:
        with caplog.at_level("INFO"):
            warm_up_serving_process()
    finally:
        gc.unfreeze()
        registry.active_model_changed()
    assert [record.levelname for record in caplog.records] == ["ERROR"]  # not "no active model version yet"
    assert caplog.records[0].getMessage().startswith("active model version 9 cannot be loaded: model artifact format")


def test_a_version_without_a_trained_model_cannot_be_activated(history):
    version = model_version_stored(version=5, status=ModelVersion.Status.READY)

    with pytest.raises(ValueError, match="v5 has no trained model to activate"):
        model_version_activate(version=version)


def test_an_activation_committed_while_a_process_looks_is_seen_at_its_next_look(active_version, monkeypatch):
    other = ModelVersion.objects.create(
        organisation=default_organisation(),
        version=active_version.version + 1,
        status=ModelVersion.Status.READY,
        artifact=active_version.artifact,
        artifact_format=active_version.artifact_format,
    )
    in_database = registry._versions_in_force

    def racing(organisation_id):  # PostgreSQL answers before the activation commits; its stamp lands after
        answer = in_database(organisation_id)
        ModelVersion.objects.filter(pk=active_version.pk).update(status=ModelVersion.Status.RETIRED)
        ModelVersion.objects.filter(pk=other.pk).update(status=ModelVersion.Status.ACTIVE)
        registry.active_model_changed(organisation_id)
        return answer

    monkeypatch.setattr(registry, "_versions_in_force", racing)
    assert active_model().version.pk == active_version.pk
    monkeypatch.setattr(registry, "_versions_in_force", in_database)
    monkeypatch.setattr(registry, "CHECK_INTERVAL_SECONDS", 0.0)

    assert active_model().version.pk == other.pk


def test_a_stamp_redis_lost_makes_the_process_ask_postgresql_again(active_version, monkeypatch):
    from django.core.cache import cache

    active_model()
    ModelVersion.objects.filter(pk=active_version.pk).update(status=ModelVersion.Status.RETIRED)
    cache.delete(registry.STAMP_KEY.format(organisation_id=active_version.organisation_id))  # as a flushed Redis
    monkeypatch.setattr(registry, "CHECK_INTERVAL_SECONDS", 0.0)

    with pytest.raises(NoActiveModel):
        active_model()


def test_a_version_this_release_cannot_read_cannot_be_activated(history):
    version = model_version_train(seed=0)
    ModelVersion.objects.filter(pk=version.pk).update(**NEWER_ARTIFACT)

    with pytest.raises(ValueError, match=rf"v{version.version} cannot be activated: model artifact format"):
        model_version_activate(version=version)
    version.refresh_from_db()
    assert version.status == ModelVersion.Status.READY
    assert not AuditEvent.objects.filter(action="model.activate").exists()


def test_a_spike_far_above_the_accounts_baseline_is_flagged_with_a_reason(active_version):
    spike = store_transaction(account_id="acct-001", amount="4800.00", at=START + timedelta(days=20, hours=12))
    normal = store_transaction(account_id="acct-002", amount="35.00", at=START + timedelta(days=20, hours=13))

    spike_score, normal_score = score_transactions(transactions=[spike, normal])

    assert spike_score.score > normal_score.score
    assert spike_score.is_anomaly
    assert spike_score.reasons and any("amount" in reason for reason in spike_score.reasons)
    assert ReviewItem.objects.filter(transaction=spike).exists()
    assert not ReviewItem.objects.filter(transaction=normal).exists()


def test_a_transaction_is_scored_once_per_version(active_version):
    tx = store_transaction(account_id="acct-003", amount="20.00", at=START + timedelta(days=20, hours=9))

    first = score_transactions(transactions=[tx])[0]
    again = score_transactions(transactions=[tx])[0]

    assert first.pk == again.pk
    assert Score.objects.filter(transaction=tx).count() == 1


def test_a_score_does_not_depend_on_the_batch_it_arrives_in(active_version):
    at = START + timedelta(days=20, hours=10)
    alone = store_transaction(account_id="acct-004", amount="64.00", at=at)
    others = [
        store_transaction(account_id=f"acct-{i:03d}", amount=f"{10 + i}.00", at=at + timedelta(minutes=i))
        for i in range(10, 20)
    ]
    score_alone = score_transactions(transactions=[alone])[0].score
    Score.objects.filter(transaction=alone).delete()

    batch = score_transactions(transactions=[*others, alone])

    # Float32 arithmetic in batched matrix products may differ in the last bits; scores are stored to 6 places.
    assert batch[-1].score == pytest.approx(score_alone, abs=1e-6)


def test_only_scores_some_alert_rule_could_match_are_sent_for_evaluation(active_version, monkeypatch):
    from alerts import services

    sent: list[list[int]] = []
    monkeypatch.setattr(services, "alerts_evaluate_for_scores", lambda score_ids, **_: sent.append(list(score_ids)))
    day = START + timedelta(days=20)
    first = store_transaction(account_id="acct-001", amount="4800.00", at=day + timedelta(hours=12))
    assert score_transactions(transactions=[first])[0].is_anomaly
    assert sent == [[]]  # no rule: no broker round trip

    AlertRuleFactory(min_risk_level="high")
    spike = store_transaction(account_id="acct-005", amount="5200.00", at=day + timedelta(hours=12))
    normal = store_transaction(account_id="acct-002", amount="35.00", at=day + timedelta(hours=13))
    spike_score, normal_score = score_transactions(transactions=[spike, normal])

    assert spike_score.risk_level in ("high", "critical") and normal_score.risk_level in ("low", "medium")
    assert sent[1] == [spike_score.pk]


def test_training_reads_the_history_before_its_window_but_trains_on_the_window_only(history, monkeypatch):
    from detection.training import services

    seen = {}
    original = services.Detector.fit

    def spy(self, frame, **kwargs):
        seen["frame"], seen["train"] = frame, kwargs["train_mask"]
        return original(self, frame, **kwargs)

    monkeypatch.setattr(services.Detector, "fit", spy)
    since, until = START + timedelta(days=12), START + timedelta(days=20)
    version = model_version_train(since=since, until=until, seed=0)

    in_window = [t for t in history if since <= t.timestamp < until]
    ts = seen["frame"]["ts"].to_numpy()
    assert ts.min() < since.timestamp()  # the accounts' earlier history is there for the features
    assert seen["train"].sum() == len(in_window) == version.training_rows
    assert (ts[seen["train"]] >= since.timestamp()).all()
    assert version.training_start >= since

    newest = model_version_train(until=until, max_rows=150, seed=0)
    assert newest.training_rows == 150
    assert seen["train"].sum() == 150 and len(seen["frame"]) > 150
    latest = sorted((t.timestamp, t.pk) for t in history if t.timestamp < until)[-150:]
    assert newest.training_start == latest[0][0].replace(microsecond=0)


@pytest.mark.parametrize("size", [29, COPY_ABOVE + 40])  # scores inserted as arrays, and as COPY lines
def test_bulk_scoring_in_arrays_stores_what_score_transactions_stores(active_version, size):
    from django.db import transaction as db_transaction

    from detection.scoring.services import StoredRows, score_stored

    day = START + timedelta(days=20)
    batch = [store_transaction(account_id="acct-001", amount="4800.00", at=day + timedelta(hours=12))] + [
        store_transaction(account_id=f"acct-{i:03d}", amount=f"{12 + i}.50", at=day + timedelta(hours=1, seconds=i))
        for i in range(2, size + 1)
    ]
    fields = ("transaction_id", "score", "risk_level", "is_anomaly", "components", "reasons")

    def stored():
        scores = Score.objects.filter(transaction__in=batch).order_by("transaction_id")
        items = ReviewItem.objects.filter(transaction__in=batch).order_by("transaction_id")
        return list(scores.values_list(*fields)), list(items.values_list("transaction_id", "priority", "status"))

    with db_transaction.atomic():
        score_transactions(transactions=batch)
        expected = stored()
        db_transaction.set_rollback(True)
    assert not Score.objects.filter(transaction__in=batch).exists()

    rows = StoredRows(source_id=batch[0].source_id, transaction_ids=[t.transaction_id for t in batch])
    result = score_stored(stored=rows)

    assert stored() == expected
    assert result.scored == len(batch) and result.flagged == len(expected[1]) >= 1
    again = score_stored(stored=rows)
    assert (again.scored, again.flagged) == (result.scored, result.flagged)  # counted from the stored scores
    assert stored() == expected


def test_score_rows_written_as_copy_lines_read_back_exactly(active_version, history):
    from django.utils import timezone

    from detection.scoring.services import _Computed, _score_copy_lines, _score_rows_insert

    reasons = ['unusual back\\slash "quoted" \t tab', "montant inhabituel: 3 × l'usuel €", "😀", "bell \x07 line\nend"]
    computed = _Computed(
        row_ids=[history[0].pk, history[1].pk],
        values=[0.123457, 1e-06],
        levels=["low", "critical"],
        flagged=[False, True],
        component_names=["isolation_forest", 'auto "encoder" \\'],
        component_values=[[0.1, 0.30000000000000004], [1.0, 2.5e-05]],
        reasons=[reasons, []],
        decisions=["allow", "block"],
        rules=[[], [{"id": 3, "name": 'a "quoted" \\ rule', "version": 2, "action": "block"}]],
    )
    ids = _score_rows_insert(copy_lines=_score_copy_lines(computed, active_version.pk, timezone.now()))

    stored = {s.transaction_id: s for s in Score.objects.filter(pk__in=ids.values())}
    first, second = stored[history[0].pk], stored[history[1].pk]
    assert (first.score, first.risk_level, first.is_anomaly, first.reasons) == (0.123457, "low", False, reasons)
    assert first.components == {"isolation_forest": 0.1, 'auto "encoder" \\': 0.30000000000000004}
    assert (second.score, second.is_anomaly, second.reasons) == (1e-06, True, [])
    assert second.components == {"isolation_forest": 1.0, 'auto "encoder" \\': 2.5e-05}
    assert (first.decision, first.rules) == ("allow", [])
    assert (second.decision, second.rules) == (
        "block",
        [{"id": 3, "name": 'a "quoted" \\ rule', "version": 2, "action": "block"}],
    )


def test_a_large_set_of_scores_some_stored_before_stores_just_the_rest(active_version, history):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from detection.scoring.services import _Computed, _score_copy_lines, _score_rows_insert

    targets = [t.pk for t in history[: COPY_ABOVE + 20]]
    assert not Score.objects.filter(transaction__in=targets).exists()

    def insert(pks: list[int]) -> dict[int, int]:
        n = len(pks)
        computed = _Computed(
            pks, [0.5] * n, ["low"] * n, [False] * n, ["forest"], [[0.5]] * n, [[]] * n, ["allow"] * n, [[]] * n
        )
        return _score_rows_insert(copy_lines=_score_copy_lines(computed, active_version.pk, timezone.now()))

    with CaptureQueriesContext(connection) as plain:
        first = insert(targets[::2])  # none stored: the plain INSERT
    with CaptureQueriesContext(connection) as retried:
        again = insert(targets)  # half stored: the plain INSERT fails, ON CONFLICT stores the rest

    assert not any("ON CONFLICT" in q["sql"] for q in plain.captured_queries)  # no speculative insertion
    assert any("ON CONFLICT" in q["sql"] for q in retried.captured_queries)

    assert sorted(first) == sorted(targets[::2]) and sorted(again) == sorted(targets[1::2])
    stored = dict(Score.objects.filter(transaction__in=targets).values_list("transaction_id", "id"))
    assert stored == first | again  # one score each, the first ones kept


def test_a_server_importing_the_app_inside_its_event_loop_still_loads_the_active_models(transactional_db, caplog):
    """uvicorn's own process manager and granian import the ASGI app in a running event loop, where the ORM refuses
    to run: the warm-up reads the active versions on a thread of its own instead of giving up."""
    import asyncio

    from anomaly_site.warmup import warm_up_serving_process

    model_version_stored(version=9, status=ModelVersion.Status.ACTIVE, **NEWER_ARTIFACT)
    registry.active_model_changed()

    async def serving_process_start_up():
        warm_up_serving_process()

    try:
        with caplog.at_level("INFO"):
            asyncio.run(serving_process_start_up())
    finally:
        gc.unfreeze()
        registry.active_model_changed()
    assert [record.getMessage().split(":")[0] for record in caplog.records] == [
        "active model version 9 cannot be loaded"
    ]
