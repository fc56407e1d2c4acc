"""Shared fixtures: small models made here (no hub), built once per test session."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "catalogs" / "example.yaml"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _tiny_bert(directory: Path, seed: int):
    """A 2-layer BERT with random weights and the embedded MiniLM's tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig
    from retriever.encoder import resolve

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(resolve(None))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    return tokenizer, config


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory) -> str:
    """A cross-encoder small enough to build in a test; its scores are arbitrary but real."""
    from transformers import BertForSequenceClassification

    from index_build.onnx_export import ship

    path = tmp_path_factory.mktemp("tiny-cross-encoder")
    tokenizer, config = _tiny_bert(path, 0)
    config.num_labels = 1
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    ship(path, "reranker", 64, half=False)  # its ONNX export beside it, as medcode's own models have
    return str(path)


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> str:
    """A random 32-dimensional bi-encoder: a model other than the one an index was built with."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertModel

    raw = tmp_path_factory.mktemp("tiny-bert")
    tokenizer, config = _tiny_bert(raw, 1)
    BertModel(config).save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    word = models.Transformer(str(raw), max_seq_length=64)
    model = SentenceTransformer(modules=[word, models.Pooling(word.get_embedding_dimension() if hasattr(word, "get_embedding_dimension") else word.get_word_embedding_dimension())],
                                device="cpu")
    path = tmp_path_factory.mktemp("tiny-encoder")
    model.save(str(path))
    return str(path)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("embedding-cache")


@pytest.fixture(scope="session")
def example_index(tmp_path_factory, cache_dir) -> Path:
    """The example catalogue built with the embedded MiniLM (the default model)."""
    from index_build.build import build

    path = tmp_path_factory.mktemp("indexes") / "example"
    build([str(EXAMPLE), str(ROOT / "catalogs" / "example.csv")], path, cache=cache_dir, progress=False)
    return path


@pytest.fixture(scope="session")
def retriever(example_index):
    from retriever import Retriever

    return Retriever.load(example_index)


def held_out_index(directory: Path, cache_dir: Path) -> tuple[Path, set[str]]:
    """The example catalogue built with half its synonyms held out, and those synonyms."""
    import json

    from index_build.build import build

    build([str(EXAMPLE)], directory, cache=cache_dir, holdout=0.5, seed=3, progress=False)
    held = {json.loads(line)["text"] for line in (directory / "heldout.jsonl").read_text().splitlines()}
    return directory, held


def write_next_edition(directory: Path) -> Path:
    """The example catalogue's 2027 edition: one code added, one removed, one retitled, one
    inclusion term added."""
    text = EXAMPLE.read_text()
    text = text.replace('version: "2026"', 'version: "2027"')
    text = text.replace("title: Atrial flutter", "title: Atrial flutter and atrial tachycardia")
    text = text.replace("synonyms: [inferior STEMI]", "synonyms: [inferior STEMI, inferior wall MI]")
    text = text.replace("  - code: CARD.FL\n", "  - code: CARD.AT\n    title: Atrial tachycardia\n    parent: CARD\n"
                        "  - code: CARD.FL\n")
    start, end = text.index("  - code: RESP.PNA"), text.index("  - code: RESP.ASTH")
    path = directory / "example-2027.yaml"
    path.write_text(text[:start] + text[end:])
    return path
