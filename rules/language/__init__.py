"""The rule language: typed, safe expressions over a batch's columns (never Python's eval), in plain Python."""
