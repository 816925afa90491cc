"""k-fold cross-validation: :mod:`~ttmbio.cv.fold` runs one fold (fine-tune, calibrate,
evaluate; torch), :mod:`~ttmbio.cv.summary` aggregates the folds' metrics (no torch)."""
