"""Captured runs: what was decided for an event, with which versions and rows; listing them."""
