"""One module per dataset, each defining ``SOURCE``, its
:class:`~ttmbio.sources.registry.DatasetSource`.

The registry finds them by listing this package, so adding a dataset is one module here plus its
params: a data-section class in ``ttmbio/params/data.py`` and its ``data``, ``windows`` and
``splits`` fields (README, "Datasets and adding one").
"""
