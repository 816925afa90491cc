"""Data sources: each dataset indexes its cases cheaply and loads one recording on demand.

:mod:`ttmbio.sources.registry` defines what a dataset's reader does and finds them, one module
per dataset in :mod:`ttmbio.sources.datasets`. The file formats they share live here: ``.vital``
files (:mod:`~ttmbio.sources.vital_dir`, which the VitalDB API's downloads end up as too), the
common case and recording types (:mod:`~ttmbio.sources.base`).
"""
