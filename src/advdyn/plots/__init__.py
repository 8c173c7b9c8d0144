"""Plotting: functions that only draw results computed elsewhere."""
