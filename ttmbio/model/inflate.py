"""Channel inflation: a pretrained encoder over some channels -> a new one over others, by name.

Spec 003 fine-tunes a ``["PPG", "ECG"]`` pretrained encoder on five BUT-PPG channels
``["ACC_X", "ACC_Y", "ACC_Z", "PPG", "ECG"]``. Design contract 3 asks that this maps weights by
channel *name* wherever a parameter is channel-specific, and that it is a tested operation, not a
search for parameter names that may not exist. :func:`inflate_encoder` does this:

* a parameter or buffer whose shape does not depend on the channel count is copied as is;
* a channel-specific one is rebuilt channel by channel: a target channel that the source has
  copies the source's slice (wherever the two lists put it); a new channel gets the mean of the
  pretrained channels' slices plus seeded Gaussian noise.

Which TTM parameters are channel-specific (granite-tsfm 0.3.2, ``modeling_tinytimemixer.py``):

* ``mode="common_channel"`` (the default): **none**. The patcher (``Linear(patch_length,
  d_model)``), the positional encoding ``[num_patches, d_model]``, and every
  ``TinyTimeMixerLayer``'s patch mixer and feature mixer (LayerNorm/BatchNorm over ``d_model``,
  MLPs over patches or features, gated attention over the same) act on each channel alone with
  shared weights; the no-op scaler has no state. Inflation copies every tensor, and each
  channel's latents depend on that channel's input only.
* ``mode="mix_channel"``: each ``TinyTimeMixerLayer`` (also inside the adaptive-patching blocks'
  ``mixer_layers``) adds a ``channel_feature_mixer`` (``TinyTimeMixerChannelFeatureMixerBlock``)
  that mixes *across* channels. Its ``norm`` is over ``d_model`` (not channel-specific); with
  ``C`` channels and ``e = expansion_factor`` its other six tensors are:

  ==========================================  =============  ================================
  parameter (suffix)                          shape          channel axes
  ==========================================  =============  ================================
  ``gating_block.attn_layer.weight``          ``[C, C]``     out (C) and in (C)
  ``gating_block.attn_layer.bias``            ``[C]``        out (C)
  ``mlp.fc1.weight``                          ``[C*e, C]``   out (C blocks of e) and in (C)
  ``mlp.fc1.bias``                            ``[C*e]``      out (C blocks of e)
  ``mlp.fc2.weight``                          ``[C, C*e]``   out (C) and in (C blocks of e)
  ``mlp.fc2.bias``                            ``[C]``        out (C)
  ==========================================  =============  ================================

  The ``C*e`` hidden units of the channel MLP have no channel of their own; we read them as C
  blocks of ``e`` units, unit ``c*e + j`` belonging to channel ``c``. With that reading, a
  matched channel's sub-network is exactly the pretrained one and a re-ordering of the channels
  gives a model that is exactly equivariant to the same permutation of its inputs (hidden units
  are interchangeable, so any consistent assignment is as good as another).

How a tensor is rebuilt: along each channel axis in turn, target channel ``t`` takes the
source block of its matched channel, or the mean of all source blocks if ``t`` is new. So an
entry of a two-axis weight linking two matched channels is the pretrained entry for that pair;
one linking a new and a matched channel is the mean over the pretrained channels on the new
side; one linking two new channels is the mean over both. Then noise is added, once, to every
entry that touches a new channel: ``N(0, (noise_std * s)**2)`` with ``s`` the standard deviation
of those mean-initialised entries in that tensor, or ``noise_std`` itself when ``s`` is 0 (a
single entry, or constant values). The noise comes from the ``generator`` handed in, drawn
tensor by tensor in state-dict order, so equal seeds give equal models.

Which axes are channel axes is not guessed from names alone: a probe encoder with one more
channel is built on the meta device, and an axis is a channel axis exactly when its size
changes, as ``k * C`` for a fixed block size ``k``. The result must agree with the table above
(``_CHANNEL_AXES``); a tensor whose shape depends on the channel count in any other way, or that
the table does not describe, is refused with :class:`ConfigError` naming it -- never skipped.

Caveat worth knowing: in ``mix_channel`` mode the matched channels' latents are *not* unchanged
by inflation -- the new channels take part in the mixing (the gating softmax runs over all
channels, ``fc2`` sums over the new hidden blocks too). Only ``common_channel`` keeps them
exactly; fine-tuning is what adapts the mixer to the new channels.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection

import torch

from ttmbio.errors import ConfigError
from ttmbio.model.encoder import TTMEncoder
from ttmbio.params import DataParams

# Channel names the project reads: every channel some dataset section (params.data) can give.
# A target name outside this set is almost always a typo ("PPg") that would otherwise become a
# *new* channel and silently lose its pretrained weights; pass ``known=`` to widen it.
KNOWN_CHANNELS: frozenset[str] = DataParams().known_channels

# Block size per axis of every channel-specific TTM tensor (None: not a channel axis); the
# string "e" stands for the config's expansion_factor. Keyed by the name's suffix.
_CHANNEL_AXES: dict[str, tuple[int | str | None, ...]] = {
    "channel_feature_mixer.gating_block.attn_layer.weight": (1, 1),
    "channel_feature_mixer.gating_block.attn_layer.bias": (1,),
    "channel_feature_mixer.mlp.fc1.weight": ("e", 1),
    "channel_feature_mixer.mlp.fc1.bias": ("e",),
    "channel_feature_mixer.mlp.fc2.weight": (1, "e"),
    "channel_feature_mixer.mlp.fc2.bias": (1,),
}

Layout = tuple[int | None, ...]


def channel_map(
    source: list[str],
    target: list[str],
    known: Collection[str] | None = KNOWN_CHANNELS,
) -> dict[int, int | None]:
    """Target index -> source index of the same channel name, or None for a new channel.

    Refuses (:class:`ConfigError`) duplicate names on either side, target names outside
    ``known`` (``None`` skips that check), names that differ from a source channel only in case
    or spacing, and a target that shares no channel with the source -- each of which would
    otherwise quietly throw the pretrained weights away.
    """
    for side, names in (("pretrained", source), ("target", target)):
        if not names:
            raise ConfigError(f"the {side} channel list is empty; name at least one channel")
        dups = sorted(n for n, count in Counter(names).items() if count > 1)
        if dups:
            raise ConfigError(
                f"{side} channels {names} name {dups} more than once; list each channel once"
            )
    by_key = {name.strip().casefold(): name for name in source}
    near = {
        t: by_key[t.strip().casefold()]
        for t in target
        if t not in source and t.strip().casefold() in by_key
    }
    if near:
        raise ConfigError(
            f"target channels {sorted(near)} differ from pretrained channels "
            f"{sorted(near.values())} only in case or spacing; spell them exactly "
            f"({near}) so their pretrained weights are transferred"
        )
    if known is not None:
        unknown = sorted(set(target) - set(known) - set(source))
        if unknown:
            raise ConfigError(
                f"target channels {unknown} are not known channel names (known: "
                f"{sorted(set(known) | set(source))}); fix the spelling, or pass them in known= "
                "if they are real new channels"
            )
    index = {name: i for i, name in enumerate(source)}
    mapping = {t: index.get(name) for t, name in enumerate(target)}
    if all(s is None for s in mapping.values()):
        raise ConfigError(
            f"target channels {target} share no channel with the pretrained encoder's {source}; "
            "include at least one of them (inflation maps weights by channel name)"
        )
    return mapping


def inflate_encoder(
    source: TTMEncoder,
    channels: list[str],
    generator: torch.Generator,
    noise_std: float = 0.01,
    known: Collection[str] | None = KNOWN_CHANNELS,
) -> TTMEncoder:
    """A new :class:`TTMEncoder` over ``channels``, initialised from ``source`` by channel name.

    ``source`` is left untouched; the global torch RNG is not consumed (construction runs under
    a forked RNG and all noise comes from ``generator``). The result has ``source``'s
    train/eval mode, dtype and device. See the module docstring for what is copied and how.
    """
    if not math.isfinite(noise_std) or noise_std < 0:
        raise ConfigError(
            f"inflation noise_std (finetune.inflation_noise) must be a finite number >= 0, "
            f"got {noise_std}"
        )
    src_channels = list(source.channels)
    if source.config.num_input_channels != len(src_channels):
        raise ConfigError(
            f"source encoder names {len(src_channels)} channels {src_channels} but its backbone "
            f"has num_input_channels={source.config.num_input_channels}; rebuild it"
        )
    mapping = channel_map(src_channels, list(channels), known)
    cmap = [mapping[t] for t in range(len(channels))]

    with torch.random.fork_rng(devices=[]):
        target = TTMEncoder(source.cfg, list(channels))
    with torch.device("meta"):  # shapes only: no memory, no RNG
        probe = TTMEncoder(source.cfg, [f"probe{i}" for i in range(len(src_channels) + 1)])

    src_state = source.state_dict()
    tgt_state = target.state_dict()
    probe_state = probe.state_dict()
    if set(src_state) != set(tgt_state):
        diff = sorted(set(src_state) ^ set(tgt_state))
        raise ConfigError(
            f"source and target encoders hold different tensors ({diff[:3]}); inflate a plain "
            "TTMEncoder (merge or remove adapters first)"
        )

    expansion = int(source.config.expansion_factor)
    new_state: dict[str, torch.Tensor] = {}
    for name, tensor in src_state.items():
        layout = _layout(name, tensor.shape, probe_state[name].shape, len(src_channels))
        expected = _expected_layout(name, expansion, tensor.dim())
        if layout != expected:
            raise ConfigError(
                f"cannot inflate {name}: its channel axes are {layout} by shape but {expected} "
                "by the known TTM layout (ttmbio.model.inflate._CHANNEL_AXES); teach inflate.py "
                "how this parameter depends on the channels"
            )
        want = tuple(
            size if k is None else k * len(channels)
            for size, k in zip(tensor.shape, layout, strict=True)
        )
        if tuple(tgt_state[name].shape) != want:
            raise ConfigError(
                f"cannot inflate {name}: expected target shape {list(want)}, the target encoder "
                f"has {list(tgt_state[name].shape)}"
            )
        if all(k is None for k in layout):
            new_state[name] = tensor.detach().clone()
        else:
            new_state[name] = _inflate_tensor(
                tensor.detach(), layout, cmap, len(src_channels), generator, noise_std
            )

    # assign=True: the target takes the source's dtype and device along with the values
    target.load_state_dict(new_state, strict=True, assign=True)
    return target.train(source.training)


def _layout(name: str, shape: torch.Size, probe: torch.Size, n: int) -> Layout:
    """Per axis: block size ``k`` if the axis has ``k * C`` entries for C channels, else None.

    ``shape`` is the tensor's shape with ``n`` channels and ``probe`` with ``n + 1``.
    """
    if len(shape) != len(probe):
        raise ConfigError(
            f"cannot inflate {name}: its rank changes with the channel count "
            f"({list(shape)} for {n} channels, {list(probe)} for {n + 1})"
        )
    layout: list[int | None] = []
    for size, bigger in zip(shape, probe, strict=True):
        k = bigger - size
        if k == 0:
            layout.append(None)
        elif k > 0 and size == k * n:
            layout.append(k)
        else:
            raise ConfigError(
                f"cannot inflate {name}: an axis of size {size} for {n} channels becomes "
                f"{bigger} for {n + 1}, not a multiple of the channel count"
            )
    return tuple(layout)


def _expected_layout(name: str, expansion: int, rank: int) -> Layout:
    """The table's layout for ``name`` (all None when the table does not list it)."""
    for suffix, axes in _CHANNEL_AXES.items():
        if name == suffix or name.endswith("." + suffix):
            return tuple(expansion if k == "e" else k for k in axes)  # type: ignore[misc]
    return (None,) * rank


def _inflate_tensor(
    tensor: torch.Tensor,
    layout: Layout,
    cmap: list[int | None],
    n_src: int,
    generator: torch.Generator,
    noise_std: float,
) -> torch.Tensor:
    """Map every channel axis of ``tensor`` through ``cmap``; add noise where a channel is new."""
    out = tensor
    new = torch.zeros((), dtype=torch.bool)
    is_new = torch.tensor([s is None for s in cmap])
    for axis, k in enumerate(layout):
        if k is None:
            continue
        blocks = out.unflatten(axis, (n_src, k))  # [..., n_src, k, ...]
        mean = blocks.mean(dim=axis, keepdim=True)
        pieces = [mean if s is None else blocks.narrow(axis, s, 1) for s in cmap]
        out = torch.cat(pieces, dim=axis).flatten(axis, axis + 1)
        axis_new = is_new.repeat_interleave(k)
        view = [1] * tensor.dim()
        view[axis] = axis_new.numel()
        new = new | axis_new.view(view)
    new = new.expand(out.shape)
    if not new.any():
        return out.clone()
    fill = out[new].double()
    # equal values (a bias whose new entries all hold the one mean) have no spread; test that
    # exactly rather than trust std() to round to 0
    spread = 0.0 if bool((fill == fill[0]).all()) else fill.std().item()
    scale = noise_std * spread if spread > 0 and math.isfinite(spread) else noise_std
    noise = torch.randn(
        out.shape, generator=generator, dtype=torch.float64, device=generator.device
    )
    noise = noise * scale
    return torch.where(new, out + noise.to(out.dtype).to(out.device), out)
