"""Downstream fine-tuning: a head on the (inflated) pretrained encoder, trained in stages.

Schedule (spec 003): stage 1 trains the head alone; in ``ft`` mode stage 2 unfreezes exactly
the last ``unfreeze_last_n`` encoder blocks (or, with LoRA, the LoRA adapters instead) and an
optional stage 3 trains everything at lr/10. ``fm`` mode keeps the encoder frozen throughout
(spec 000's foundation-model mode). Early stopping watches the val metric (AUROC, or MAE for
regression) across stages and the best epoch's weights are kept.

Like pretraining, runs are seeded per epoch and checkpointed every epoch in a work folder,
so an interrupted run resumes and ends with the same weights. The run folder also holds the
kept weights' scores of the val windows and of the whole test store (``ttmbio.finetune.scores``),
which calibrate, evaluate and label-efficiency read instead of loading the model again.

:mod:`~ttmbio.finetune.build` holds the schedule, the model and the data of a run;
:mod:`~ttmbio.finetune.loop` its epochs, scores and outputs, driven by
:mod:`ttmbio.training.engine`; :mod:`~ttmbio.finetune.summary` the run's typed ``summary.json``.
"""
