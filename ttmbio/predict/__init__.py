"""``ttmbio predict``: a fine-tuned model on new ``.vital`` files and BUT-PPG records."""
