"""ttmbio: a tiny foundation model for biosignals on IBM's Tiny Time Mixers."""

__version__ = "0.1.0"
