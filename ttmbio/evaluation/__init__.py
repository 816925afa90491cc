"""Test-split evaluation: the metrics with their cluster-bootstrap intervals, per window and
per recording (:mod:`~ttmbio.evaluation.metrics`), and the evaluate stage as a library call
that reads a fine-tuning run's test scores and its calibrator
(:mod:`~ttmbio.evaluation.run`)."""
