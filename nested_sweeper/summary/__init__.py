"""A study read back: rounds, best run, tables, JSON/CSV and plots."""
