"""Helpers shared by atoll's tests (on pytest's pythonpath as `support`)."""
