"""Shared infrastructure that no app owns: bulk inserts, parent keys, logging, metrics, API errors, the audit trail.

Imports no project app (an import-linter contract keeps it so); apps reach up to it, never the other way.
"""
