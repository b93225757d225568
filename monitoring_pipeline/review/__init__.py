"""The read side and the review workflow: the decision trace of a prediction, retraining-review tickets and
their dossiers, and what changed when. Reads what the steps and the registry wrote; writes only tickets and
dossiers."""
