"""sentence-transformers models -> ONNX folders that ``retriever.onnx_models`` runs without torch.

Export traces the torch model once (torch's TorchScript-based exporter: no extra package) with
inputs of two lengths, so that batch size and sequence length stay dynamic. A model folder that
already carries its export in ``onnx/`` (medcode's shipped models do) is copied instead, when the
export was made from these very weights. Both kinds also get an int8 copy (an encoder's in blocks
that keep each input's vector independent of its batch; a cross-encoder's by ONNX Runtime's dynamic
quantisation), used only where the manifest says so: int8 is judged on dev sets first.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path

from retriever.encoder import fingerprint, prefixes, resolve

from .st_models import quiet_loading
from retriever.errors import ModelProblem
from retriever.onnx_models import CARD, MODEL, MODEL_INT8, TOKENIZER, read_card

SHIPPED_ONNX = "onnx"  # the export a model folder carries with it
OPSET = 17
# the encoder's int8 copy: weights in blocks of 64 input rows (32 was slower, 128 made an input's
# vector depend on its batch again; bench/encoder_int8.py)
INT8_BLOCK = 64
SAMPLE = ["heart attack, anterior wall", "type 2 diabetes mellitus with diabetic chronic kidney disease, stage 3"]


def _trace(module, inputs: dict, path: Path, output: str) -> None:
    import torch

    names = list(inputs)
    dynamic = {n: {0: "batch", 1: "sequence"} for n in names}
    dynamic[output] = {0: "batch"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer warns about every Python branch it freezes
        torch.onnx.export(module, tuple(inputs[n] for n in names), str(path), input_names=names,
                          output_names=[output], dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)


def _write(tmp: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)


def _tmp(out: Path) -> Path:
    tmp = out.parent / f".{out.name}.onnx-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def _shipped(source: Path, kind: str) -> Path | None:
    """The source folder's own export, if it is of these weights."""
    folder = source / SHIPPED_ONNX
    if not (folder / CARD).is_file():
        return None
    card = read_card(folder)
    if card.get("kind") == kind and card.get("source_fingerprint") == fingerprint(str(source)):
        return folder
    return None


def _earlier(source: Path, kind: str, cache: Path | None, half: bool,
             max_length: int | None = None) -> tuple[Path | None, Path | None]:
    """(an export of these weights to copy: the cache's, else the folder's own; where a new one
    is kept). The cache comes first: it holds what a build made of the folder's own export too
    (the reranker's int8 copy). Half-stored exports (for shipping) are not cached."""
    cached = None if half else _cached(cache, source, kind, max_length)
    if cached is not None and (cached / CARD).is_file():
        return cached, cached
    return (_shipped(source, kind) if source.is_dir() else None), cached


def _cached(cache: Path | None, source: Path, kind: str, max_length: int | None = None) -> Path | None:
    """Where an export of these weights is kept between builds (None: no cache)."""
    if cache is None or not source.is_dir():
        return None
    key = hashlib.sha256(f"{fingerprint(str(source))}\x1f{kind}\x1f{max_length}\x1f{OPSET}".encode()).hexdigest()[:24]
    return cache / "onnx-exports" / key


def _keep(folder: Path, cached: Path | None, refresh: bool = False) -> None:
    """Copy a fresh export into the cache, whole or not at all; ``refresh``: in place of the
    cache's copy (which lacked the int8 copy a build now makes)."""
    if cached is None or (cached.exists() and not refresh):
        return
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.parent / f".{cached.name}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(folder, tmp)
    if refresh:
        shutil.rmtree(cached, ignore_errors=True)
    os.replace(tmp, cached)


def export_encoder(name: str, out: str | Path, half: bool = False, cache: Path | None = None) -> dict:
    """Write the bi-encoder ``name`` (a name or path) as an ONNX folder at ``out``; its card.
    ``cache``: a folder where exports are kept, so that a rebuild with the same weights copies
    its export instead of loading torch to trace the model again."""
    out = Path(out)
    source = Path(resolve(name))
    earlier, cached = _earlier(source, "encoder", cache, half)
    if earlier:
        tmp = _tmp(out)
        shutil.copytree(earlier, tmp, dirs_exist_ok=True)
        made = not half and _add_int8(tmp, quantize_int8_blocks)
        _write(tmp, out)
        _keep(out, cached, refresh=made and earlier == cached)
        return read_card(out)
    import torch
    from sentence_transformers import SentenceTransformer

    model = _load(lambda: SentenceTransformer(str(source) if source.exists() else name, device="cpu").float().eval(),
                  "sentence-transformers model", name)
    features = {k: v for k, v in model.preprocess(SAMPLE).items() if isinstance(v, torch.Tensor)}
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in features]

    class Embed(torch.nn.Module):
        """The whole sentence-transformers pipeline (transformer, pooling, normalisation)."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *tensors):
            return self.model(dict(zip(names, tensors)))["sentence_embedding"]

    prompts = getattr(model, "prompts", None) or {}
    known_q, known_p = prefixes(name)
    dimension = int(model.encode(["x"]).shape[1])
    card = {"kind": "encoder", "name": name, "dimension": dimension, "max_length": int(model.max_seq_length),
            "inputs": names, "normalize": True, "query_prompt": prompts.get("query", known_q),
            "passage_prompt": prompts.get("passage", prompts.get("document", known_p))}
    return _export(Embed().eval(), {n: features[n] for n in names}, "embedding", model.tokenizer, card,
                   source, out, half, cached, int8=None if half else quantize_int8_blocks)


def export_cross_encoder(name: str, out: str | Path, max_length: int, half: bool = False,
                         cache: Path | None = None) -> dict:
    """Write the cross-encoder ``name`` as an ONNX folder (fp32 and int8) at ``out``; its card."""
    out = Path(out)
    source = Path(resolve(name))
    earlier, cached = _earlier(source, "cross-encoder", cache, half, max_length)
    if earlier:
        tmp = _tmp(out)
        shutil.copytree(earlier, tmp, dirs_exist_ok=True)
        _add_int8(tmp, quantize_int8)
        card = {**read_card(tmp), "max_length": int(max_length)}
        (tmp / CARD).write_text(json.dumps(card, indent=2) + "\n")
        _write(tmp, out)
        _keep(out, cached)
        return card
    import torch
    from sentence_transformers import CrossEncoder

    model = _load(lambda: CrossEncoder(str(source) if source.exists() else name, device="cpu", max_length=max_length),
                  "cross-encoder", name)
    net = model.model.float().eval()
    features = dict(model.tokenizer([SAMPLE[0], SAMPLE[1]], [SAMPLE[1], SAMPLE[0][:8]], padding=True,
                                    truncation=True, max_length=max_length, return_tensors="pt"))
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in features]

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, *tensors):
            return self.net(**dict(zip(names, tensors))).logits

    card = {"kind": "cross-encoder", "name": name, "max_length": int(max_length), "inputs": names}
    return _export(Logits().eval(), {n: features[n] for n in names}, "logits", model.tokenizer, card,
                   source, out, half, cached, int8=quantize_int8)


def _load(make, what: str, name: str):
    """A sentence-transformers model, or a ModelProblem naming it."""
    quiet_loading()
    try:
        return make()
    except Exception as exc:  # the library raises many kinds for a bad name or path
        raise ModelProblem(f"cannot load {what} {name!r}: "
                           f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc


def _add_int8(folder: Path, quantize) -> bool:
    """Make the folder's int8 copy from its graph with ``quantize`` if it has none; whether one was made."""
    if (folder / MODEL_INT8).is_file():
        return False
    full = folder / ".full.onnx"  # the quantisers find weights only as plain fp32 initializers
    expand_half(folder / MODEL, full)
    quantize(full, folder / MODEL_INT8)
    full.unlink()
    return True


def _export(module, inputs: dict, output: str, tokenizer, card: dict, source: Path, out: Path, half: bool,
            cached: Path | None, int8=None) -> dict:
    """Trace ``module`` into a new folder (an int8 copy made by the quantiser ``int8`` if given, fp16
    storage if ``half``), with its tokenizer and card; swap it in at ``out`` and keep it in the cache."""
    tmp = _tmp(out)
    try:
        _trace(module, inputs, tmp / MODEL, output)
        if int8 is not None:
            int8(tmp / MODEL, tmp / MODEL_INT8)
        if half:
            store_half(tmp / MODEL)
        _save_tokenizer(tokenizer, tmp)
        card = {**card, "source_fingerprint": fingerprint(str(source)), "opset": OPSET,
                "weights": "fp16 stored, fp32 computed" if half else "fp32"}
        (tmp / CARD).write_text(json.dumps(card, indent=2) + "\n")
        _write(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _keep(out, cached)
    return card


def _save_tokenizer(tokenizer, folder: Path) -> None:
    """The fast tokenizer's own file; truncation and padding are set at load time."""
    backend = getattr(tokenizer, "backend_tokenizer", None) or getattr(tokenizer, "_tokenizer", None)
    if backend is None:
        raise ModelProblem("this model has no fast tokenizer (tokenizer.json); medcode needs one to search without torch")
    backend.save(str(folder / TOKENIZER))


def quantize_int8(src: Path, dst: Path, per_channel: bool = False) -> None:
    """Dynamic int8 weights for the matrix products (ONNX Runtime's quantiser; the cross-encoder's
    copy); ``per_channel``: one scale for each output channel of a matrix instead of one for the
    whole matrix. The activations get one scale per run, taken from the whole batch: an input's
    output depends on what it was batched with."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it advises a pre-processing step that dynamic int8 does not need
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel)
    finally:
        root.setLevel(level)


def quantize_int8_blocks(src: Path, dst: Path, block: int = INT8_BLOCK) -> None:
    """int8 weights in blocks of ``block`` input rows, one scale a block, run by ONNX Runtime's
    MatMulNBits at its int8 accuracy level (the encoder's copy): each input row's activations are
    quantised by blocks of their own, so an input embeds the same alone or in any batch, which
    dynamic int8 does not (a search and a batch search must agree). bench/encoder_int8.py."""
    import logging

    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        config = DefaultWeightOnlyQuantConfig(block_size=block, is_symmetric=True, accuracy_level=4, bits=8)
        quantizer = MatMulNBitsQuantizer(onnx.load(str(src)), bits=8, block_size=block, is_symmetric=True,
                                         accuracy_level=4, algo_config=config)
        quantizer.process()
        quantizer.model.save_model_to_file(str(dst), use_external_data_format=False)
    finally:
        root.setLevel(level)


def store_half(path: Path) -> None:
    """Store the large float weights as fp16, each followed by a Cast to fp32: half the bytes on
    disk, the same fp32 arithmetic (ONNX Runtime folds the casts when it opens the model). Used
    for the shipped models, whose weights are fp16 already, so nothing is lost."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    casts, kept = [], []
    for init in graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT and int(np.prod(init.dims)) >= 1024:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "_fp16")
            kept.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
        else:
            kept.append(init)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = casts + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(path))


def expand_half(src: Path, dst: Path) -> None:
    """The inverse of ``store_half``: fp32 initializers again, the casts gone."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    restored, nodes = {}, []
    for node in graph.node:
        if node.op_type == "Cast" and len(node.input) == 1 and node.input[0] in inits \
                and inits[node.input[0]].data_type == onnx.TensorProto.FLOAT16:
            restored[node.output[0]] = numpy_helper.from_array(
                numpy_helper.to_array(inits[node.input[0]]).astype(np.float32), node.output[0])
        else:
            nodes.append(node)
    used = {i.name for i in graph.initializer} - {n.input[0] for n in graph.node
                                                  if n.op_type == "Cast" and n.output[0] in restored}
    kept = [i for i in graph.initializer if i.name in used] + list(restored.values())
    del graph.initializer[:]
    graph.initializer.extend(kept)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(dst))


def ship(source: str | Path, kind: str, max_length: int | None = None, half: bool = True,
         name: str | None = None) -> dict:
    """Write a model folder's own export into ``<folder>/onnx`` (fp16 storage unless ``half`` is
    False), for shipping: ``kind`` is "encoder" or "reranker"; ``name``: the folder's name once
    shipped (default: its name now). Write the folder's cards first: the export is stamped with
    the fingerprint of the folder as it is."""
    source = Path(source)
    target = source / SHIPPED_ONNX
    if kind == "encoder":
        card = export_encoder(str(source), target, half=half)
    else:
        card = export_cross_encoder(str(source), target, int(max_length or 64), half=half)
    (target / MODEL_INT8).unlink(missing_ok=True)  # made again by every build from the fp32 graph (seconds)
    card["name"] = name or source.name  # not the path it was exported from
    (target / CARD).write_text(json.dumps(card, indent=2) + "\n")
    return card
