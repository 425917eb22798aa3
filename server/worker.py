"""Placeholder until the job worker lands."""
