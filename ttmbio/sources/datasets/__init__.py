"""One module per dataset, each defining ``SOURCE``, its
:class:`~ttmbio.sources.registry.DatasetSource`.

The registry finds them by listing this package, so adding a dataset is one module here plus its
params sections (``data.<name>``, ``windows.<name>``, ``splits.<name>``).
"""
