"""Post-hoc calibration of binary classifiers: the calibration maps and their fitting
(:mod:`~ttmbio.calibration.calibrator`), the metrics that judge calibration
(:mod:`~ttmbio.calibration.metrics`), and a fine-tuned run's calibrator file, fitted on its
val scores and tied to its weights (:mod:`~ttmbio.calibration.for_run`)."""
