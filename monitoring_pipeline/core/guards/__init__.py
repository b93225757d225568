"""Output guards: declared rules, vectorised verdicts, the validated / quarantined split."""
