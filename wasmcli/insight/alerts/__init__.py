"""Alerts on error patterns: TOML rules (rules.py), their evaluation over the stored
traces (evaluate.py), which episodes were announced (the home's `alert_state` table,
store/alert_state.py), the check after each run (after_run.py), and `--exec` (notify.py).
"""
