"""Havre: a sovereign trusted research environment for health data."""

__version__ = "0.1.0"
