"""As-of forecasts, pacing and backtests: the plan's year as it unfolds."""
