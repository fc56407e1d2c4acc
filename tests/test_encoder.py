"""Query and passage prefixes: given, from the model's own prompts, or from the known families."""
import json
import shutil

from index_build.st_models import Encoder
from retriever.encoder import prefixes


def test_known_families_need_prefixes():
    assert prefixes("intfloat/multilingual-e5-small") == ("query: ", "passage: ")
    assert prefixes("all-MiniLM-L6-v2") == ("", "")


def test_the_models_own_prompts_are_used(tiny_encoder, tmp_path):
    model = tmp_path / "with-prompts"
    shutil.copytree(tiny_encoder, model)
    config = model / "config_sentence_transformers.json"
    settings = json.loads(config.read_text()) if config.exists() else {}
    settings.update(prompts={"query": "suche: ", "document": "eintrag: "}, default_prompt_name="query")
    config.write_text(json.dumps(settings))
    enc = Encoder(str(model))
    assert (enc.query_prefix, enc.passage_prefix) == ("suche: ", "eintrag: ")
    assert enc.describe()["query_prefix"] == "suche: "
    # the prefix is added once: the model's default prompt is not applied on top
    same = enc.model.encode(["suche: asthma"], normalize_embeddings=True)
    assert abs(float((enc.queries(["asthma"]) * same).sum()) - 1.0) < 1e-5
    assert Encoder(str(model), query_prefix="").query_prefix == ""  # given wins


def test_an_index_searches_with_the_prompts_of_its_model(tiny_encoder, tmp_path, cache_dir):
    from index_build.build import build
    from retriever import Retriever

    from .conftest import EXAMPLE

    model = tmp_path / "with-prompts"
    shutil.copytree(tiny_encoder, model)
    config = model / "config_sentence_transformers.json"
    settings = json.loads(config.read_text()) if config.exists() else {}
    config.write_text(json.dumps({**settings, "prompts": {"query": "suche: ", "document": "eintrag: "}}))
    m = build([str(EXAMPLE)], tmp_path / "idx", str(model), cache=cache_dir, progress=False)
    assert (m["model"]["query_prefix"], m["model"]["passage_prefix"]) == ("suche: ", "eintrag: ")
    r = Retriever.load(tmp_path / "idx")
    torch_encoder = Encoder(str(model))
    assert float((r.encoder.queries(["asthma"]) * torch_encoder.queries(["asthma"])).sum()) > 0.9999
