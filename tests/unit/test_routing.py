"""Scoring, text selection, decision and cache: pure logic, fake encoder."""

import numpy as np
import pytest
from pydantic import ValidationError

from serve_app.routing.cache import ScoreCache
from serve_app.routing.decision import decide
from serve_app.routing.policy import RouterPolicy
from serve_app.routing.router_core import RouterCore
from serve_app.routing.strategies import (
    STRATEGIES,
    ExemplarScorer,
    ExemplarStrategyConfig,
    LengthScorer,
    LengthStrategyConfig,
    exemplar_complexity,
)
from serve_app.routing.text import ScoreText, content_text, select_text


class KeywordEncoder:
    """2-d embeddings: axis 0 = 'simple' words, axis 1 = 'complex' words."""

    calls = 0

    def encode(self, texts):
        KeywordEncoder.calls += 1
        out = []
        for t in texts:
            v = np.array([t.count("easy") + 0.01, t.count("hard") + 0.01], dtype=np.float32)
            out.append(v / np.linalg.norm(v))
        return np.array(out).reshape(len(texts), 2)


def test_formula_matches_design():
    assert exemplar_complexity(np.array([0.5]), np.array([0.5]))[0] == pytest.approx(10 * 0.5 / 1.01)
    assert exemplar_complexity(np.array([1.0]), np.array([0.0]))[0] == 0.0
    # negative cosines are clipped, so the score stays in [0, 10]
    assert exemplar_complexity(np.array([-0.3]), np.array([-0.2]))[0] == 0.0
    assert exemplar_complexity(np.array([0.0]), np.array([1.0]))[0] == pytest.approx(10 / 1.01)


def test_exemplar_scorer_orders_by_similarity():
    cfg = ExemplarStrategyConfig(simple=["easy"], complex=["hard"])
    scores = ExemplarScorer(cfg, KeywordEncoder()).score(["easy easy", "hard task", "easy hard"])
    assert scores[0] < 4.0 < scores[1]
    assert 0 <= min(scores) and max(scores) <= 10


def test_exemplar_requires_encoder_and_non_empty_sets(tmp_path):
    with pytest.raises(ValueError):
        ExemplarScorer(ExemplarStrategyConfig(), None)
    f = tmp_path / "ex.yaml"
    f.write_text("simple: [a]\ncomplex: []\n")
    with pytest.raises(ValueError):
        ExemplarStrategyConfig(exemplars_file=str(f)).load_exemplars()


def test_packaged_exemplars_are_rich():
    simple, complex_ = ExemplarStrategyConfig().load_exemplars()
    assert len(simple) >= 25 and len(complex_) >= 25
    assert "What is Python?" in simple


def test_length_scorer():
    s = LengthScorer(LengthStrategyConfig(words_at_max=10))
    assert s.score(["", "one two", " ".join(["w"] * 50)]) == [0.0, 2.0, 10.0]


def test_registry_names_match_configs():
    for name, (cfg_cls, _, _) in STRATEGIES.items():
        assert cfg_cls.model_fields["name"].default == name


def test_decide_is_strictly_above_threshold():
    assert decide(4.0, 4.0, "x").tier == "small"
    assert decide(4.0001, 4.0, "x").tier == "large"
    assert decide(0.0, 0.0, "x").tier == "small"


def test_select_text_modes_and_text_parts():
    msgs = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "answer"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "second"},
                {"type": "image_url", "image_url": {"url": "data:x"}},
                {"type": "text", "text": "part"},
            ],
        },
    ]
    assert select_text(msgs) == "second\npart"
    assert select_text(msgs, ScoreText.ALL_USER) == "first\nsecond\npart"
    assert select_text(msgs, ScoreText.CONVERSATION) == "be brief\nfirst\nanswer\nsecond\npart"
    assert select_text([{"role": "system", "content": "x"}]) == ""
    assert content_text(None) == "" and content_text(42) == ""


def test_cache_is_bounded_lru():
    c = ScoreCache(2)
    c.put("a", 1.0)
    c.put("b", 2.0)
    assert c.get("a") == 1.0
    c.put("c", 3.0)  # evicts b, the least recently used
    assert c.get("b") is None and c.get("c") == 3.0 and len(c) == 2
    assert (c.hits, c.misses) == (2, 1)
    c.resize(1)
    assert len(c) == 1
    off = ScoreCache(0)
    off.put("a", 1.0)
    assert off.get("a") is None


def test_router_core_caches_and_retunes_live():
    KeywordEncoder.calls = 0
    core = RouterCore(KeywordEncoder)
    core.apply({"strategy": {"name": "exemplar", "simple": ["easy"], "complex": ["hard"]}, "threshold": 4.0})
    msgs = [{"role": "user", "content": "hard"}]
    first = core.route(msgs)
    assert first.tier == "large" and not first.cached
    calls = KeywordEncoder.calls
    second = core.route(msgs)
    assert second.cached and KeywordEncoder.calls == calls
    # threshold change: same cached score, new decision, cache kept
    core.apply({"strategy": {"name": "exemplar", "simple": ["easy"], "complex": ["hard"]}, "threshold": 9.99})
    third = core.route(msgs)
    assert third.cached and third.tier == "small"
    # strategy change clears the cache
    core.apply({"strategy": {"name": "length"}})
    assert len(core.cache) == 0
    assert core.route(msgs).strategy == "length"


def test_policy_rejects_unknown_keys_and_strategies():
    with pytest.raises(ValidationError):
        RouterPolicy.model_validate({"treshold": 3})
    with pytest.raises(ValidationError):
        RouterPolicy.model_validate({"strategy": {"name": "magic"}})
    with pytest.raises(ValidationError):
        RouterPolicy.model_validate({"threshold": 11})


class PickyEncoder(KeywordEncoder):
    """Fails any batch holding a text it cannot tokenise (as a tokenizer does on a lone surrogate)."""

    def encode(self, texts):
        if any("\ud800" in t for t in texts):
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        return super().encode(texts)


def test_one_unscorable_text_does_not_fail_its_batch():
    core = RouterCore(PickyEncoder)
    core.apply({"strategy": {"name": "exemplar", "simple": ["easy"], "complex": ["hard"]}})
    scores = core.score_each(["easy one", "x\ud800y", "hard one"])
    assert scores[1] is None
    assert scores[0] < 4.0 < scores[2]
    assert core.cached_score("easy one") == scores[0] and core.cached_score("x\ud800y") is None
