"""Models in the formats other tools read: a Hugging Face folder for the pretrained encoder,
a self-contained folder (safetensors, config, recipe, calibrator, ONNX, model card) for each
fine-tuned model."""
