"""Model versions side by side: a candidate beside the active one on recent labelled traffic, then activation."""
