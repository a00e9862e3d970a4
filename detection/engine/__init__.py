"""The detection engine: plain Python and numpy, no Django. Features, models, ensemble, explanations, metrics."""
