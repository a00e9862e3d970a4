"""The lists pages, under /rules/lists/ (namespace `rules`)."""

from django.urls import path

from rules.lists import views

urlpatterns = [
    path("", views.list_index, name="list_index"),
    path("new/", views.list_new, name="list_new"),
    path("<slug:name>/", views.list_detail, name="list_detail"),
    path("<slug:name>/add/", views.list_entries_add, name="list_entries_add"),
    path("<slug:name>/remove/", views.list_entry_remove, name="list_entry_remove"),
    path("<slug:name>/upload/", views.list_upload, name="list_upload"),
    path("<slug:name>/download/", views.list_download, name="list_download"),
    path("<slug:name>/delete/", views.list_delete, name="list_delete"),
]
