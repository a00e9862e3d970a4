"""/api/v1/lists and /api/v1/lists/{name}/entries (scope `lists`)."""

from django.urls import path

from rules.lists import apis

urlpatterns = [
    path("lists", apis.ValueListsApi.as_view(), name="api-list-list"),
    path("lists/<str:name>/entries", apis.ListEntriesApi.as_view(), name="api-list-entries"),
]
