"""Measured throughput and memory of the pipeline (``ttmbio bench``)."""
