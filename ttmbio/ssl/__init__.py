"""Self-supervised pretraining pieces: patch masking and the reconstruction losses."""
