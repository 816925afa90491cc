"""Pure signal-processing functions (numpy/scipy/neurokit2) behind the ``windows`` stage.

Resampling, zero-phase filtering, beat detection and signal-quality indices, each working on a
whole recording or a stack of windows at once; no I/O and no pipeline knowledge.
"""
