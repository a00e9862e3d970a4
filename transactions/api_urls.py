from django.urls import path

from transactions import apis

urlpatterns = [
    path("transactions/score", apis.TransactionScoreApi.as_view(), name="api-transaction-score"),
    path("transactions/score/batch", apis.TransactionScoreBatchApi.as_view(), name="api-transaction-score-batch"),
    path("transactions", apis.TransactionListApi.as_view(), name="api-transaction-list"),
    path("transactions/<str:transaction_id>", apis.TransactionDetailApi.as_view(), name="api-transaction-detail"),
    path("transactions/<str:transaction_id>/label", apis.TransactionLabelApi.as_view(), name="api-transaction-label"),
    path("labels", apis.LabelBulkApi.as_view(), name="api-label-bulk"),
]
