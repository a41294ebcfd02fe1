"""Scripted evaluation runs of the incident commander: scenario files, runner, graders and reports.

Start with `evals/README.md` (the scenario format) and `evals.cli` (`incident-commander eval`).
"""
