"""What every training run shares: the epoch engine (:mod:`~ttmbio.training.engine`), the
canonical checkpoint files (:mod:`~ttmbio.training.checkpoint`), what a checkpoint says
about its model (:mod:`~ttmbio.training.meta`) and the torchrun process group
(:mod:`~ttmbio.training.distributed`)."""
