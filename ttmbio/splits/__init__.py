"""Which case goes where: train/val/test and cross-validation folds, assigned by subject
(:mod:`~ttmbio.splits.assign`), recorded with their provenance in the split file
(:mod:`~ttmbio.splits.file`; its schema and reader: :mod:`~ttmbio.splits.schema`), and
mapped onto stored windows (:mod:`~ttmbio.splits.folds`)."""
