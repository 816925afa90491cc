"""Glucose forecasting with TTM (spec 002)."""
