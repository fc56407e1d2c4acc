"""``medcode eval``: accuracy of each retrieval stage on gold sets, side by side."""
