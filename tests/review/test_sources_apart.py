"""An upload's flagged rows are kept out of the live queue and reviewed, if at all, in the upload's own view with
its own bulk close; transactions that arrive labelled are never queued; the live queue filters by source."""

import numpy as np
import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from alerts.models import AuditEvent
from detection.scoring.events import ScoresStored
from review.models import ReviewItem
from review.services import ReviewConflict, review_claim_next, review_decide, review_items_queue_stored
from tests.conftest import work_in
from tests.factories import (
    ReviewItemFactory,
    ScoreFactory,
    SourceFactory,
    TransactionFactory,
    UploadJobFactory,
    default_organisation,
)
from transactions.models import Source

pytestmark = pytest.mark.django_db
QUEUE = reverse("review:queue")


def stored(scores, *, labelled=None, upload_job_id=None) -> ScoresStored:
    """Scoring's news of these stored, flagged scores."""
    return ScoresStored(
        organisation_id=default_organisation().pk,
        transaction_ids=np.array([s.transaction_id for s in scores], dtype=np.int64),
        score_ids=np.array([s.pk for s in scores], dtype=np.int64),
        scores=np.array([s.score for s in scores]),
        risk_levels=[s.risk_level for s in scores],
        flagged=np.ones(len(scores), dtype=bool),
        amounts=np.array([s.transaction.amount for s in scores], dtype=object),
        labelled=labelled,
        upload_job_id=upload_job_id,
    )


def upload_item(job, **fields) -> ReviewItem:
    tx = TransactionFactory(source=job.source)
    return ReviewItemFactory(score=ScoreFactory(transaction=tx), origin="upload", job=job, **fields)


def test_an_uploads_flagged_scores_are_queued_for_its_own_view():
    job = UploadJobFactory()
    score = ScoreFactory(transaction=TransactionFactory(source=job.source))

    review_items_queue_stored(stored([score], upload_job_id=job.pk))

    item = ReviewItem.objects.get()
    assert (item.origin, item.job_id, item.status) == ("upload", job.pk, "open")


def test_the_live_queues_hear_nothing_of_an_uploads_items(django_capture_on_commit_callbacks):
    job = UploadJobFactory()
    score = ScoreFactory(transaction=TransactionFactory(source=job.source))

    with django_capture_on_commit_callbacks() as callbacks:
        review_items_queue_stored(stored([score], upload_job_id=job.pk))

    assert callbacks == []


def test_a_transaction_that_arrived_labelled_is_never_queued():
    labelled, unlabelled = ScoreFactory(), ScoreFactory()

    review_items_queue_stored(stored([labelled, unlabelled], labelled=np.array([True, False])))

    assert list(ReviewItem.objects.values_list("transaction_id", flat=True)) == [unlabelled.transaction_id]


def test_the_queue_page_does_not_list_an_uploads_items(analyst_client):
    live = ReviewItemFactory()
    upload_item(UploadJobFactory())

    response = analyst_client.get(QUEUE)

    assert [item.pk for item in response.context["page"].object_list] == [live.pk]
    assert response.context["counts"]["open"] == 1


def test_claim_next_never_hands_out_an_uploads_item(analyst):
    upload_item(UploadJobFactory(), priority=99)

    assert review_claim_next(organisation_id=default_organisation().pk, user=analyst) is None


def test_the_live_queue_filters_by_source(analyst_client):
    partner = ReviewItemFactory(score=ScoreFactory(transaction=TransactionFactory(source=SourceFactory(name="bank"))))
    ReviewItemFactory(score=ScoreFactory(transaction=TransactionFactory(source=SourceFactory(name="demo"))))

    response = analyst_client.get(QUEUE, {"source": "bank"})

    assert [item.pk for item in response.context["page"].object_list] == [partner.pk]


def test_the_source_filter_offers_the_live_sources_not_the_uploads(analyst_client):
    SourceFactory(name="bank")
    UploadJobFactory()

    body = analyst_client.get(QUEUE).content.decode()

    assert '<option value="bank">bank</option>' in body
    assert f'<option value="{Source.UPLOADS}">' not in body


# ------------------------------------------------------------------ the upload's own view


def test_the_upload_view_lists_its_flagged_rows_only(analyst_client):
    job = UploadJobFactory()
    mine = upload_item(job)
    upload_item(UploadJobFactory())
    ReviewItemFactory()

    response = analyst_client.get(reverse("review:upload", args=[job.pk]))

    assert response.status_code == 200
    assert [item.pk for item in response.context["page"].object_list] == [mine.pk]
    assert response.context["counts"] == {"active": 1, "decided": 0, "closed": 0}


def test_the_upload_view_of_another_organisations_upload_is_not_found(client, other_analyst):
    job = UploadJobFactory()
    client.force_login(other_analyst)

    assert client.get(reverse("review:upload", args=[job.pk])).status_code == 404


def test_a_partners_job_has_no_upload_view(analyst_client):
    job = UploadJobFactory(source=SourceFactory(name="bank"))

    assert analyst_client.get(reverse("review:upload", args=[job.pk])).status_code == 404


def test_the_close_asks_for_confirmation_saying_how_many(analyst_client):
    job = UploadJobFactory()
    upload_item(job), upload_item(job)

    body = analyst_client.get(reverse("review:upload", args=[job.pk]), {"confirm": "close"}).content.decode()

    assert "Close 2 items of this upload without a decision?" in body


def test_bulk_close_closes_the_uploads_items_still_to_do_without_a_label(analyst_client, analyst):
    job = UploadJobFactory()
    open_item, claimed = upload_item(job), upload_item(job, status="in_review", assignee=analyst)
    decided = upload_item(job, status="decided", decision="fraud")
    other_upload = upload_item(UploadJobFactory())

    response = analyst_client.post(reverse("review:upload_close", args=[job.pk]))

    assert response.status_code == 302
    statuses = dict(ReviewItem.objects.values_list("pk", "status"))
    assert [statuses[i.pk] for i in (open_item, claimed, decided, other_upload)] == [
        "closed",
        "closed",
        "decided",
        "open",
    ]
    assert not ReviewItem.objects.filter(status="closed", transaction__label__isnull=False).exists()


def test_bulk_close_is_audited_once_with_its_count_and_noted_on_each_item(analyst_client):
    job = UploadJobFactory()
    items = [upload_item(job), upload_item(job)]

    analyst_client.post(reverse("review:upload_close", args=[job.pk]))

    event = AuditEvent.objects.get(action="review.upload_close")
    assert (event.object_id, event.after["closed"]) == (str(job.pk), 2)
    assert all(item.decisions.filter(note__startswith="Closed with its upload").exists() for item in items)


def test_bulk_close_says_how_many_it_closed(analyst_client):
    job = UploadJobFactory()
    upload_item(job)

    response = analyst_client.post(reverse("review:upload_close", args=[job.pk]), follow=True)

    assert "Closed 1 item of this upload without a decision." in response.content.decode()


def test_a_viewer_may_not_close_an_uploads_items(client, viewer):
    job = UploadJobFactory()
    item = upload_item(job)
    client.force_login(viewer)

    assert client.post(reverse("review:upload_close", args=[job.pk])).status_code == 403
    item.refresh_from_db()
    assert item.status == "open"


def test_a_closed_item_cannot_be_decided(analyst):
    item = upload_item(UploadJobFactory(), status="closed")

    with pytest.raises(ReviewConflict, match="[Cc]losed without a decision"):
        review_decide(item=item, user=analyst, decision="fraud")


def test_an_upload_items_page_leads_back_to_its_upload(analyst_client):
    job = UploadJobFactory()
    item = upload_item(job)

    response = analyst_client.get(reverse("review:transaction", args=[item.transaction_id]))

    assert response.context["back_url"] == reverse("review:upload", args=[job.pk])


def test_a_member_of_two_organisations_sees_an_upload_only_in_its_organisation(client, analyst, other_organisation):
    job = UploadJobFactory()
    analyst.memberships.create(organisation=other_organisation)
    client.force_login(analyst)
    work_in(client, other_organisation)

    assert client.get(reverse("review:upload", args=[job.pk])).status_code == 404


# ------------------------------------------------------------------ items queued before (migration review 0005)


def test_the_migration_takes_earlier_upload_items_and_labelled_ones_out_of_the_live_queue(analyst):
    from importlib import import_module

    migration = import_module("review.migrations.0005_item_origin")
    uploads = SourceFactory(name=Source.UPLOADS, kind=Source.Kind.UPLOAD)
    from_upload = ReviewItemFactory(score=ScoreFactory(transaction=TransactionFactory(source=uploads)))
    decided_upload = ReviewItemFactory(
        score=ScoreFactory(transaction=TransactionFactory(source=uploads)), status="decided", decision="fraud"
    )
    imported = TransactionFactory(label=1, label_source="import", labelled_at=timezone.now())
    labelled = ReviewItemFactory(score=ScoreFactory(transaction=imported), status="in_review", assignee=analyst)
    live = ReviewItemFactory()

    migration.imported_items_out_of_the_live_queue(apps, None)

    rows = dict(ReviewItem.objects.values_list("pk", "status"))
    origins = dict(ReviewItem.objects.values_list("pk", "origin"))
    assert [(origins[i.pk], rows[i.pk]) for i in (from_upload, decided_upload, labelled, live)] == [
        ("upload", "closed"),
        ("upload", "decided"),
        ("live", "closed"),
        ("live", "open"),
    ]
    assert from_upload.decisions.get().note.startswith("Closed when uploads left the live queue")


def test_the_queue_depth_gauge_counts_the_live_queue_only():
    from review.selectors import review_queue_depth_gauge

    ReviewItemFactory()
    upload_item(UploadJobFactory())

    (family,) = list(review_queue_depth_gauge())

    depths = {tuple(sample.labels.values()): sample.value for sample in family.samples}
    assert depths[("test-org", "open")] == 1
