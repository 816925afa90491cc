"""Classical baseline: hand-crafted window features and a scikit-learn classifier, scored on
the same label subsets, test windows, metrics and bootstrap intervals as the fine-tuned model."""
