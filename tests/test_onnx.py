"""The query-time models: ONNX exports that must give what the torch models give, and a search
that never imports torch."""
import json
import subprocess
import sys

import numpy as np
import pytest

from index_build.onnx_export import expand_half, export_cross_encoder, export_encoder, store_half
from index_build.st_models import Encoder
from retriever.errors import ModelProblem
from retriever.onnx_models import MODEL, MODEL_INT8, OnnxCrossEncoder, OnnxEncoder

from .conftest import ROOT

# mixed lengths in one batch, one past every max length (truncation), accents, digits
PHRASES = ["heart attack", "broken hip, right side, first visit", "sugar diabetes",
           "type 2 diabetes mellitus with diabetic chronic kidney disease, stage 3 (moderate), "
           "with hyperglycaemia and " + "long-standing " * 40 + "neuropathy",
           "neumonía por aspiración", "T2DM", "fx L femur neck, 2nd encounter"]


@pytest.fixture(scope="module", params=["minilm", "tiny"])
def exported_encoder(request, tmp_path_factory, tiny_encoder):
    name = None if request.param == "minilm" else tiny_encoder
    out = tmp_path_factory.mktemp("onnx-encoder") / "encoder"
    export_encoder(name or "all-MiniLM-L6-v2", out)
    return Encoder(name), out


def test_exported_encoder_gives_the_torch_vectors(exported_encoder):
    torch_encoder, folder = exported_encoder
    onnx = OnnxEncoder(folder)
    assert onnx.dimension == torch_encoder.dimension
    a, b = torch_encoder.queries(PHRASES), onnx.queries(PHRASES)
    assert np.min(np.sum(a * b, axis=1)) >= 0.9999
    # one at a time (no padding) and in one batch (padded) give the same vectors
    alone = np.vstack([onnx.queries([p]) for p in PHRASES])
    assert np.min(np.sum(alone * b, axis=1)) >= 0.9999


def test_encoder_int8_copy_embeds_queries_close_to_fp32(exported_encoder):
    # the build may embed queries with this copy (manifest "query_precision"); the catalogue stays fp32
    _, folder = exported_encoder
    assert (folder / MODEL_INT8).is_file()
    fp32, int8 = OnnxEncoder(folder), OnnxEncoder(folder, precision="int8")
    assert int8.precision == "int8"
    a, b = fp32.queries(PHRASES), int8.queries(PHRASES)
    cos = np.sum(a * b, axis=1)
    assert not np.allclose(a, b, atol=1e-6)  # really the quantised graph
    assert cos.min() >= 0.99, cos
    # each phrase's vector is its own: the same alone as in a batch with others
    alone = np.vstack([int8.queries([p]) for p in PHRASES])
    np.testing.assert_allclose(alone, b, atol=1e-5)


def test_batches_bound_the_padding():
    from retriever.onnx_models import PAD_SLACK, SMALL_BATCH, _batches

    lengths = np.array(sorted([3, 3, 4, 5, 6, 10, 12, 20, 21, 40, 80] + [9] * 70))
    slices = _batches(lengths, 64)
    assert np.concatenate([np.arange(len(lengths))[s] for s in slices]).tolist() == list(range(len(lengths)))
    for s in slices:
        part = lengths[s]
        assert len(part) <= 64
        assert part.max() <= PAD_SLACK * part.min() or len(part) * part.max() <= SMALL_BATCH
    assert len(_batches(np.full(200, 10), 64)) == 4  # like lengths: full batches


def test_exported_encoder_ranks_as_torch_does(exported_encoder):
    torch_encoder, folder = exported_encoder
    onnx = OnnxEncoder(folder)
    titles = [line.split(":", 1)[1].strip() for line in (ROOT / "catalogs" / "example.yaml").read_text().splitlines()
              if line.strip().startswith("title:")]
    for q_torch, q_onnx in zip(torch_encoder.queries(PHRASES), onnx.queries(PHRASES)):
        top_torch = np.argsort(-(torch_encoder.passages(titles) @ q_torch))[:10]
        top_onnx = np.argsort(-(onnx.passages(titles) @ q_onnx))[:10]
        assert list(top_torch) == list(top_onnx)


def test_exported_cross_encoder_gives_the_torch_logits(tiny_cross_encoder, tmp_path):
    import torch
    from sentence_transformers import CrossEncoder

    card = export_cross_encoder(tiny_cross_encoder, tmp_path / "ce", max_length=24)
    assert card["kind"] == "cross-encoder" and (tmp_path / "ce" / MODEL_INT8).is_file()
    pairs = [(p, t) for p in PHRASES for t in ("Acute myocardial infarction", "Fracture of neck of femur")]
    expected = CrossEncoder(tiny_cross_encoder, max_length=24, device="cpu").predict(
        pairs, activation_fn=torch.nn.Identity(), convert_to_numpy=True)
    got = OnnxCrossEncoder(tmp_path / "ce", "fp32").score(pairs)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    int8 = OnnxCrossEncoder(tmp_path / "ce", "int8").score(pairs)
    assert int8.shape == got.shape and not np.allclose(int8, got, atol=1e-7)  # really another model
    with pytest.raises(ModelProblem, match="not an encoder"):
        OnnxEncoder(tmp_path / "ce")
    with pytest.raises(ModelProblem, match="unknown precision"):
        OnnxCrossEncoder(tmp_path / "ce", "int4")


def test_half_storage_keeps_the_arithmetic(exported_encoder, tmp_path):
    _, folder = exported_encoder
    import shutil

    shutil.copytree(folder, tmp_path / "half")
    store_half(tmp_path / "half" / MODEL)
    assert (tmp_path / "half" / MODEL).stat().st_size < 0.6 * (folder / MODEL).stat().st_size
    full, half = OnnxEncoder(folder).queries(PHRASES), OnnxEncoder(tmp_path / "half").queries(PHRASES)
    assert np.min(np.sum(full * half, axis=1)) >= 0.999  # fp32 weights rounded to fp16
    expand_half(tmp_path / "half" / MODEL, tmp_path / "half" / "expanded.onnx")
    shutil.move(tmp_path / "half" / "expanded.onnx", tmp_path / "half" / MODEL)
    np.testing.assert_allclose(OnnxEncoder(tmp_path / "half").queries(PHRASES), half, atol=1e-6)


def test_a_damaged_onnx_model_is_a_clear_error(exported_encoder, tmp_path):
    import shutil

    _, folder = exported_encoder
    shutil.copytree(folder, tmp_path / "bad")
    (tmp_path / "bad" / MODEL).write_bytes(b"not a model")
    with pytest.raises(ModelProblem, match="cannot load ONNX model"):
        OnnxEncoder(tmp_path / "bad")
    (tmp_path / "bad" / "medcode_onnx.json").unlink()
    with pytest.raises(ModelProblem, match="not an ONNX model folder"):
        OnnxEncoder(tmp_path / "bad")


def test_a_search_imports_no_torch(example_index):
    code = ("import sys, json\n"
            "from retriever import Retriever\n"
            f"r = Retriever.load({str(example_index)!r})\n"
            "r.search('heart attack'); r.search_batch(['asthma', 'broken hip'])\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'transformers', 'sentence_transformers'))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
