"""Distributions: what a parameter's values can be, sampled, encoded and parsed from a sweep file."""
