"""The Sampler's text runs (engine.sampling.text_compare): lockstep panels equal the one sampler, the attention of
each step equals one pass over its window, beam search after a prompt equals brute force."""

import itertools

import numpy as np
import pytest
import torch

from engine.errors import ConfigError
from engine.models.transformer import CharTransformer
from engine.sampling.decoding import make_strategy
from engine.sampling.text import generate_text
from engine.evaluation.text_eval import char_surprisal
from engine.sampling.text_compare import (TextFinished, TextTick, attention_at, beam_text_steps, check_text_run,
                                          prompt_note, text_steps)


def tiny(vocab="ab \n", context=8, seed=0):
    torch.manual_seed(seed)
    return CharTransformer(vocab, context=context, layers=2, heads=2, width=8).eval()


def test_panels_write_what_the_sampler_writes_one_character_per_tick():
    model = tiny("abcdefgh \n", context=16)
    strategies = [make_strategy("sample"), make_strategy("top-k", top_k=3), make_strategy("greedy")]
    events = list(text_steps(model, "abc", 30, strategies, seed=5))
    ticks, done = events[:-1], events[-1]
    assert len(ticks) == 30 and all(isinstance(t, TextTick) for t in ticks) and isinstance(done, TextFinished)
    assert [s.index for s in ticks[0].events[0]] == [0, 1, 2, 3]  # the prompt rides with the first character
    assert [s.sampled for s in ticks[0].events[0]] == [False, False, False, True]
    assert all(len(t.events[0]) == 1 for t in ticks[1:])
    for p, strategy in enumerate(strategies):
        expected = generate_text(model, "abc", 30, strategy=strategy, seed=5)[0]
        assert model.decode(done.values[p]) == expected
        np.testing.assert_allclose(done.char_nats[p], char_surprisal(model, expected), rtol=1e-6)
    steps = [s for t in ticks for s in t.events[0]]
    np.testing.assert_allclose([-s.log_prob for s in steps], done.char_nats[0], rtol=1e-4, atol=1e-5)
    assert steps[-1].log_prob_so_far == pytest.approx(-done.generated_nats(0), rel=1e-5)


def test_each_steps_attention_is_the_windows_and_never_looks_ahead():
    model = tiny("abcdefgh \n", context=8)
    prompt = "abcdefgh abc"  # longer than the context: windows
    assert "longer than the model's context of 8" in prompt_note(model, prompt) and not prompt_note(model, "ab")
    events = list(text_steps(model, prompt, 10, [make_strategy("sample")], seed=1))
    values = events[-1].values[0]
    steps = [s for t in events[:-1] for s in t.events[0]]
    assert [s.index for s in steps if s.attention is None] == list(range(len(prompt) - model.context))
    for step in (s for s in steps if s.attention is not None):
        maps, window = attention_at(model, values, step.index)
        assert window == step.window and step.index + 1 - window <= model.context
        for got, want in zip(step.attention, maps):
            assert got.shape == (model.heads, step.index + 1 - window)  # over inputs window .. index only
            np.testing.assert_allclose(got.astype(np.float32), want.astype(np.float32), atol=2e-3)
            np.testing.assert_allclose(got.astype(np.float32).sum(1), 1.0, atol=1e-2)


def test_beam_after_a_prompt_equals_brute_force():
    model = tiny("ab \n", context=8)
    prompt, n = "ab", 3
    v = len(model.vocab)
    with torch.no_grad():
        base = float(model.log_prob(model.encode(prompt)[None])[0])
        scores = {}
        for cont in itertools.product(range(v), repeat=n):
            ids = torch.cat([model.encode(prompt), torch.tensor(cont)])
            scores[cont] = float(model.log_prob(ids[None])[0]) - base
    last = list(beam_text_steps(model, prompt, n, width=v ** n))[-1]
    ranked = sorted(scores, key=lambda c: -scores[c])
    assert [tuple(int(x) for x in row) for row in last.sequences] == ranked
    np.testing.assert_allclose(last.log_probs, [scores[c] for c in ranked], atol=1e-4)


def test_a_beam_panel_ends_with_its_best_text_scored_exactly():
    model = tiny("ab \n", context=8)
    events = list(text_steps(model, "a", 4, [make_strategy("greedy"), make_strategy("beam", beam_width=3)], seed=0))
    done = events[-1]
    best = list(beam_text_steps(model, "a", 4, 3))[-1].sequences[0]
    np.testing.assert_array_equal(done.values[1], np.concatenate([model.encode("a").numpy(), best]))
    assert np.all(np.isfinite(done.char_nats[1])) and len(done.char_nats[1]) == 5


def test_refusals_name_the_reason():
    model = tiny()
    with pytest.raises(ConfigError, match="'z'"):
        check_text_run(model, "abz", 5, [make_strategy("sample")])
    with pytest.raises(ConfigError, match="Compare 2 to 4"):
        check_text_run(model, "ab", 5, [make_strategy("sample")] * 5)
    with pytest.raises(ConfigError, match="between 1 and"):
        list(text_steps(model, "ab", 0, [make_strategy("sample")]))
