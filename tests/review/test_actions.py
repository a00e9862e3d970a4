import pytest
from django.urls import reverse

from review.models import ReviewDecision, ReviewItem
from review.services import review_claim
from transactions.models import Transaction

pytestmark = pytest.mark.django_db
QUEUE = reverse("review:queue")
HTMX = {"HX-Request": "true"}


def test_claim_next_assigns_the_top_item_and_opens_its_page(analyst_client, analyst, open_items):
    top = max(open_items, key=lambda i: i.priority)
    response = analyst_client.post(reverse("review:claim_next"))
    assert response.status_code == 302
    assert response["Location"] == reverse("review:transaction", args=[top.transaction_id])
    assert ReviewItem.objects.get(pk=top.pk).assignee == analyst


def test_claim_next_on_an_empty_queue_returns_to_the_queue(analyst_client):
    response = analyst_client.post(reverse("review:claim_next"))
    assert response.status_code == 302
    assert response["Location"] == QUEUE


def test_claiming_a_row_over_htmx_returns_the_row_partial(analyst_client, analyst, open_items):
    item = open_items[0]
    response = analyst_client.post(reverse("review:claim", args=[item.pk]), headers=HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="item-{item.pk}"') and "<strong>me</strong>" in body
    assert ReviewItem.objects.get(pk=item.pk).assignee == analyst


def test_claiming_a_row_someone_else_holds_shows_who_has_it(analyst_client, second_analyst, open_items):
    review_claim(item=open_items[0], user=second_analyst)
    response = analyst_client.post(reverse("review:claim", args=[open_items[0].pk]), headers=HTMX)
    assert response.status_code == 200
    assert b"Claimed by bob." in response.content
    assert ReviewItem.objects.get(pk=open_items[0].pk).assignee == second_analyst


def test_release_without_javascript_redirects_back(analyst_client, analyst, open_items):
    review_claim(item=open_items[0], user=analyst)
    response = analyst_client.post(reverse("review:release", args=[open_items[0].pk]))
    assert response.status_code == 302
    assert ReviewItem.objects.get(pk=open_items[0].pk).status == "open"


def test_deciding_fraud_labels_the_transaction_and_stores_who(analyst_client, analyst, open_items):
    item = open_items[0]
    response = analyst_client.post(reverse("review:decide", args=[item.pk]), {"decision": "fraud", "note": "stolen"})
    assert response.status_code == 302
    assert Transaction.objects.get(pk=item.transaction_id).label == Transaction.FRAUD
    entry = ReviewDecision.objects.get(item=item)
    assert (entry.user, entry.decision, entry.note) == (analyst, "fraud", "stolen")


def test_save_and_claim_next_opens_the_next_item(analyst_client, analyst, open_items):
    first, second = sorted(open_items, key=lambda i: -i.priority)[:2]
    response = analyst_client.post(
        reverse("review:decide", args=[first.pk]), {"decision": "legitimate", "then": "next"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("review:transaction", args=[second.transaction_id])
    assert ReviewItem.objects.get(pk=second.pk).assignee == analyst


def test_decision_without_a_choice_changes_nothing(analyst_client, open_items):
    response = analyst_client.post(reverse("review:decide", args=[open_items[0].pk]), {"decision": "maybe"})
    assert response.status_code == 302
    assert ReviewItem.objects.get(pk=open_items[0].pk).status == "open"


def test_note_is_added_to_the_item(analyst_client, analyst, open_items):
    response = analyst_client.post(reverse("review:note", args=[open_items[0].pk]), {"note": "called the bank"})
    assert response.status_code == 302
    assert ReviewDecision.objects.get().note == "called the bank"


@pytest.mark.parametrize("name", ["claim", "release", "decide", "note"])
def test_viewer_may_not_act_on_an_item(client, viewer, open_items, name):
    client.force_login(viewer)
    response = client.post(reverse(f"review:{name}", args=[open_items[0].pk]), {"decision": "fraud", "note": "x"})
    assert response.status_code == 403
    assert ReviewItem.objects.get(pk=open_items[0].pk).status == "open"
    assert not ReviewDecision.objects.exists()


def test_viewer_may_not_claim_next(client, viewer, open_items):
    client.force_login(viewer)
    assert client.post(reverse("review:claim_next")).status_code == 403
    assert not ReviewItem.objects.filter(status="in_review").exists()


def test_viewer_sees_the_queue_without_action_buttons(client, viewer, open_items):
    client.force_login(viewer)
    response = client.get(QUEUE)
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 3
    assert b"claim-next-form" not in response.content and b">Claim</button>" not in response.content


def test_outsider_is_refused_the_queue(client, outsider, open_items):
    client.force_login(outsider)
    assert client.get(QUEUE).status_code == 403


def test_outsider_cannot_find_an_item(client, outsider, open_items):
    client.force_login(outsider)
    assert client.post(reverse("review:claim", args=[open_items[0].pk])).status_code == 403


def test_anonymous_visitor_is_sent_to_login(client, open_items):
    response = client.get(QUEUE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_actions_need_post(analyst_client, open_items):
    assert analyst_client.get(reverse("review:claim", args=[open_items[0].pk])).status_code == 405
