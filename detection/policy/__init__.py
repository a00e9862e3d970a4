"""The risk policy (risk-level cut-offs and the review threshold): its services and selectors."""
