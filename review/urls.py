from django.urls import path

from review import views

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
]
