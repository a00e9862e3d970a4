from django.urls import path

from review import views
from review.bulk import views as bulk_views
from review.cases import views as case_views

app_name = "review"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("claim-next/", views.claim_next, name="claim_next"),
    path("items/<int:pk>/claim/", views.item_claim, name="claim"),
    path("items/<int:pk>/release/", views.item_release, name="release"),
    path("items/<int:pk>/decide/", views.item_decide, name="decide"),
    path("items/<int:pk>/note/", views.item_note, name="note"),
    path("transactions/<int:pk>/", views.transaction_detail, name="transaction"),
    path("uploads/<int:job_id>/", views.upload_items, name="upload"),
    path("uploads/<int:job_id>/close/", views.upload_close, name="upload_close"),
    path("bulk/", bulk_views.items_bulk, name="bulk"),
    path("cases/", case_views.case_list, name="cases"),
    path("cases/bulk/", bulk_views.cases_bulk, name="cases_bulk"),
    path("cases/<int:pk>/", case_views.case_detail, name="case"),
    path("cases/<int:pk>/note/", case_views.case_note, name="case_note"),
    path("cases/<int:pk>/attachments/", case_views.case_attach, name="case_attach"),
    path("cases/<int:pk>/attachments/<int:attachment_pk>/", case_views.case_attachment, name="case_attachment"),
    path("cases/<int:pk>/link/", case_views.case_link, name="case_link"),
    path("cases/<int:pk>/decide/", case_views.case_decide, name="case_decide"),
]
