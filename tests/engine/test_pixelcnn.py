"""Gated PixelCNN: autoregressive property, exact likelihood, samplers, completion, beam search."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from engine.checkpoints import save_checkpoint
from engine.sampling.decoding import make_strategy
from engine.errors import ConfigError
from engine.models.pixelcnn import PixelCNN, RowCache, bits_per_dim
from engine.catalog import load_model
from engine.sampling.pixelcnn import (PixelStep, SampleDone, beam_search_images, complete_steps, completion_mask,
                                   sample, sample_steps)
from engine.training.loop import run_training


def tiny(levels: int = 2, h: int = 6, w: int = 5, seed: int = 0, **kw) -> PixelCNN:
    torch.manual_seed(seed)
    args = dict(channels=8, layers=3, kernel=3, first_kernel=3, height=h, width=w) | kw
    return PixelCNN(levels=levels, **args).eval()


def all_images(levels: int, h: int, w: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(levels), repeat=h * w)), dtype=torch.float32)


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("kw", [dict(), dict(levels=4, num_classes=3), dict(first_kernel=5, kernel=5, layers=4)])
def test_output_depends_only_on_earlier_pixels(kw):
    """d logits(pixel i) / d x_j == 0 for every j >= i (the centre included); > 0 for some j < i."""
    model = tiny(**({"levels": 2} | kw))
    labels = torch.tensor([1]) if model.num_classes else None
    n = model.height * model.width
    for i in range(n):
        r, c = divmod(i, model.width)
        x = torch.rand(1, 1, model.height, model.width, requires_grad=True)
        out = model.forward(x * (model.levels - 1), labels)[0, :, r, c].sum()
        (grad,) = torch.autograd.grad(out, x)
        grad = grad.flatten()
        assert torch.all(grad[i:] == 0), f"pixel {i} sees a later pixel"
        if i:
            assert grad[:i].abs().sum() > 0


def test_no_blind_spot_the_pixel_up_right_is_seen():
    """The vertical stack covers the columns right of the current one in rows above."""
    model = tiny(h=6, w=6, layers=3)
    x = torch.rand(1, 1, 6, 6, requires_grad=True)
    (grad,) = torch.autograd.grad(model.forward(x)[0, 0, 3, 2], x)
    assert grad[0, 0, 2, 3] != 0 and grad[0, 0, 2, 4] != 0 and grad[0, 0, 1, 5] != 0


@pytest.mark.parametrize("levels, h, w", [(2, 3, 3), (3, 2, 2)])
def test_probabilities_of_every_image_sum_to_one(levels, h, w):
    model = tiny(levels, h, w)
    with torch.no_grad():
        log_p = model.log_prob(all_images(levels, h, w))
    assert len(log_p) == levels ** (h * w)
    assert torch.logsumexp(log_p.double(), 0).item() == pytest.approx(0.0, abs=1e-5)


def test_class_conditional_probabilities_sum_to_one_per_label():
    model = tiny(3, 2, 2, num_classes=4)
    images = all_images(3, 2, 2)
    with torch.no_grad():
        totals = [torch.logsumexp(model.log_prob(images, torch.full((len(images),), k)).double(), 0) for k in range(4)]
    assert all(abs(float(t)) < 1e-5 for t in totals)
    with pytest.raises(ConfigError):
        model.log_prob(images)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("kw", [dict(), dict(levels=16, num_classes=2, kernel=5, first_kernel=5), dict(layers=1)])
def test_incremental_row_cache_agrees_with_the_full_pass(compiled, kw):
    model = tiny(**({"h": 7, "w": 6} | kw))
    x = torch.randint(0, model.levels, (3, 1, 7, 6)).float()
    labels = torch.tensor([0, 1, 1]) if model.num_classes else None
    with torch.no_grad():
        full = model.categorical_logits(model(x, labels))
        cache = RowCache(model, x.clone(), labels, compiled=compiled)
        for r in range(7):
            cache.start_row(r)
            for c in range(6):
                torch.testing.assert_close(cache.logits(c), full[:, r, c], atol=1e-5, rtol=1e-5)


def test_log_prob_bits_and_checkpoint_round_trip(tmp_path):
    model = tiny(levels=4)
    x = torch.randint(0, 4, (5, 6, 5))
    with torch.no_grad():
        log_p = model.log_prob(x)
    assert log_p.shape == (5,) and (log_p < 0).all()
    assert bits_per_dim(-log_p, 30) == pytest.approx(-log_p / (30 * np.log(2)))
    path = save_checkpoint(tmp_path / "p.safetensors", model.state_dict(), {"kind": model.kind, "hparams": model.hparams()})
    again = load_model(path, expected_kind="pixelcnn")
    with torch.no_grad():
        torch.testing.assert_close(again.log_prob(x), log_p)


def test_loss_trains_with_the_shared_training_loop():
    model = tiny()
    rng = np.random.default_rng(0)
    data = (rng.random((48, 30)) < np.linspace(0.1, 0.9, 30)).astype(np.float32)
    result = run_training(model, data, val_data=data, epochs=2, batch_size=16, lr=1e-2, seed=0, dynamic_binarize=False)
    assert result["val"]["loss"] < 30 * np.log(2)  # better than a coin per pixel
    assert "bits_per_dim" in result["train"]


def test_conditional_loss_reads_the_label_column():
    model = tiny(16, num_classes=10)
    rows = np.concatenate([np.full((4, 30), 200, np.uint8), np.array([[3], [3], [7], [7]], np.uint8)], 1)
    x = torch.as_tensor(rows).float() / 255
    loss, _ = model.loss(x)
    want = -model.log_prob(model.quantize(x[:, :-1]), torch.tensor([3, 3, 7, 7])).mean()
    torch.testing.assert_close(loss, want)


# --------------------------------------------------------------------------- sampling

CASES = [(2, make_strategy("sample")), (2, make_strategy("top-p", top_p=0.8)), (5, make_strategy("top-k", top_k=2)),
         (5, make_strategy("min-p", min_p=0.3, temperature=1.5)), (3, make_strategy("greedy"))]


@pytest.mark.parametrize("levels, strategy", CASES, ids=lambda c: getattr(c, "name", str(c)))
def test_naive_and_fast_samplers_paint_identical_images(levels, strategy):
    model = tiny(levels)
    fast = sample(model, 3, strategy=strategy, seed=11, method="fast")
    naive = sample(model, 3, strategy=strategy, seed=11, method="naive")
    assert np.array_equal(fast.image, naive.image)
    np.testing.assert_allclose(fast.log_prob, naive.log_prob, rtol=1e-5)


def test_events_describe_every_pixel_and_add_up():
    model = tiny(4)
    events = list(sample_steps(model, 2, strategy=make_strategy("top-p", top_p=0.5), seed=0))
    steps, done = events[:-1], events[-1]
    assert isinstance(done, SampleDone) and all(isinstance(e, PixelStep) for e in steps)
    assert [(e.row, e.col) for e in steps] == [divmod(i, 5) for i in range(30)]
    assert done.image.shape == (2, 6, 5) and done.image.dtype == np.uint8
    for e in steps:
        assert e.value.shape == (2,) and e.probs_before.shape == (2, 4)
        np.testing.assert_allclose(e.probs_before.sum(1), 1, rtol=1e-5)
        assert np.all(e.probs_after[np.arange(2), e.value] > 0)
        assert np.all((e.probs_after > 0) <= (e.probs_before > 0))
        assert np.array_equal(done.image[:, e.row, e.col], e.value)
    np.testing.assert_allclose(steps[-1].log_prob_so_far, done.log_prob, rtol=1e-5)
    np.testing.assert_allclose(done.bits_per_dim, -done.log_prob / (30 * np.log(2)), rtol=1e-6)


def test_same_seed_same_image_and_greedy_ignores_the_seed():
    model = tiny(3)
    a, b, c = (sample(model, 4, seed=s).image for s in (5, 5, 6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    g1, g2 = (sample(model, 2, strategy="greedy", seed=s).image for s in (1, 2))
    assert np.array_equal(g1, g2)
    gen = torch.Generator().manual_seed(5)
    assert np.array_equal(sample(model, 4, generator=gen).image, a)


@pytest.mark.parametrize("method", ["fast", "naive"])
@pytest.mark.parametrize("kind", ["top", "left", "drawn"])
def test_completion_never_changes_the_known_pixels(method, kind):
    model = tiny(4)
    known = np.random.default_rng(1).integers(0, 4, (6, 5))
    mask = np.random.default_rng(2).random((6, 5)) < 0.4 if kind == "drawn" else completion_mask(kind, 6, 5)
    events = list(complete_steps(model, known, mask, n=3, seed=3, method=method))
    done = events[-1]
    assert np.all(done.image[:, mask] == known[mask])
    painted = {(e.row, e.col) for e in events[:-1]}
    assert painted == {tuple(p) for p in np.argwhere(~mask)}


def test_completion_fast_equals_naive_and_validates_input():
    model = tiny(2)
    known = np.ones((6, 5), np.uint8)
    a = sample(model, 2, known=known, mask=completion_mask("top", 6, 5), seed=4)
    b = sample(model, 2, known=known, mask=completion_mask("top", 6, 5), seed=4, method="naive")
    assert np.array_equal(a.image, b.image)
    with pytest.raises(ConfigError):
        sample(model, known=known * 3, mask=completion_mask("top", 6, 5))
    with pytest.raises(ConfigError):
        sample(model, known=known)
    with pytest.raises(ConfigError):
        completion_mask("diagonal")


def test_invalid_sampler_requests_are_refused():
    model = tiny()
    for kwargs in (dict(method="slow"), dict(strategy=make_strategy("beam", beam_width=2)), dict(labels=[1])):
        with pytest.raises(ConfigError):
            sample(model, **kwargs)
    with pytest.raises(ConfigError):
        sample(tiny(num_classes=3))  # a conditional model needs labels
    assert sample(tiny(num_classes=3), 2, labels=[0, 2], seed=0).image.shape == (2, 6, 5)


# --------------------------------------------------------------------------- beam search


@pytest.mark.parametrize("levels, h, w", [(2, 2, 3), (3, 2, 2)])
def test_beam_search_with_full_width_equals_brute_force(levels, h, w):
    model = tiny(levels, h, w)
    images = all_images(levels, h, w)
    with torch.no_grad():
        log_p = model.log_prob(images).double()
    order = torch.argsort(log_p, descending=True)
    events = list(beam_search_images(model, len(images)))
    done = events[-1]
    assert len(events) == h * w + 1
    assert np.array_equal(done.image.reshape(len(images), -1), images[order].numpy())
    np.testing.assert_allclose(done.log_prob, log_p[order].numpy(), atol=1e-4)
    np.testing.assert_allclose(events[-2].log_probs, log_p[order].numpy(), atol=1e-4)


def test_narrow_beam_finds_likely_images():
    model = tiny(2, 3, 3)
    with torch.no_grad():
        best = model.log_prob(all_images(2, 3, 3)).max().item()
    done = list(beam_search_images(model, 4))[-1]
    assert done.image.shape == (4, 3, 3)
    assert np.all(np.diff(done.log_prob) <= 1e-6)
    assert done.log_prob[0] <= best + 1e-5


# --------------------------------------------------------------------------- sample CLI


def run_cli(monkeypatch, argv: list[str]) -> int:
    import engine.cli.main as cli
    from engine.cli.sample import SAMPLE_COMMAND

    if not any(c[0] == "sample" for c in cli.COMMANDS):
        monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, SAMPLE_COMMAND])
    return cli.main(argv)


def read_png(path) -> np.ndarray:
    import struct
    import zlib

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    idat = data.index(b"IDAT")
    (n,) = struct.unpack(">I", data[idat - 4 : idat])
    raw = np.frombuffer(zlib.decompress(data[idat + 4 : idat + 4 + n]), np.uint8).reshape(h, w + 1)
    return raw[:, 1:]


def test_sample_command_writes_a_png_grid(tmp_path, monkeypatch, capsys):
    from engine.cli.sample import image_grid

    model = tiny(2)
    ckpt = save_checkpoint(tmp_path / "p.safetensors", model.state_dict(), {"kind": "pixelcnn", "hparams": model.hparams()})
    out = tmp_path / "grid.png"
    argv = ["sample", "pixelcnn", "--checkpoint", str(ckpt), "--strategy", "top-p", "--top-p", "0.9", "-n", "5",
            "--seed", "3", "--scale", "2", "--out", str(out)]
    assert run_cli(monkeypatch, argv) == 0
    want = sample(model, 5, strategy=make_strategy("top-p", top_p=0.9), seed=3).image
    assert np.array_equal(read_png(out), image_grid(want, 2, scale=2))
    assert "5 image(s)" in capsys.readouterr().out
    beams = tmp_path / "beams.png"
    assert run_cli(monkeypatch, argv[:4] + ["--strategy", "beam", "--beam-width", "3", "--out", str(beams)]) == 0
    assert read_png(beams).shape == image_grid(np.zeros((3, 6, 5)), 2, scale=3).shape


@pytest.mark.parametrize("bad", [["--strategy", "top-p", "--top-p", "1.5"], ["--strategy", "top-k", "--top-k", "0"],
                                 ["--strategy", "greedy", "--temperature", "0.7"], ["--strategy", "nucleus"], ["-n", "0"]])
def test_sample_command_refuses_bad_settings_with_one_sentence(tmp_path, monkeypatch, capsys, bad):
    model = tiny(2)
    ckpt = save_checkpoint(tmp_path / "p.safetensors", model.state_dict(), {"kind": "pixelcnn", "hparams": model.hparams()})
    code = run_cli(monkeypatch, ["sample", "pixelcnn", "--checkpoint", str(ckpt), *bad, "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and err.endswith(".") and "\n" not in err
    assert not (tmp_path / "x.png").exists()


# --------------------------------------------------------------------------- train / eval CLI


def fake_data(root):
    """A data folder with tiny static-binarized splits and MNIST IDX files (28x28)."""
    import gzip
    import struct

    rng = np.random.default_rng(0)
    (root / "binarized_mnist").mkdir(parents=True)
    (root / "mnist").mkdir()
    for split, n in (("train", 24), ("valid", 8), ("test", 10)):
        rows = (rng.random((n, 784)) < 0.2).astype(int)
        text = "".join(" ".join(map(str, r)) + "\n" for r in rows)
        (root / "binarized_mnist" / f"binarized_mnist_{split}.amat").write_text(text)
    for prefix, n in (("train", 60), ("t10k", 6)):
        for kind, array in (("images-idx3", rng.integers(0, 256, (n, 28, 28))), ("labels-idx1", np.arange(n) % 10)):
            header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
            with gzip.open(root / "mnist" / f"{prefix}-{kind}-ubyte.gz", "wb") as f:
                f.write(header + array.astype(np.uint8).tobytes())
    return root


@pytest.mark.parametrize("extra", [[], ["--levels", "16", "--conditional"]])
def test_train_and_eval_pixelcnn_cli(tmp_path, monkeypatch, capsys, extra):
    import engine.cli.main as cli
    from engine.checkpoints import read_config
    from engine.cli.eval import EVAL_COMMAND
    from engine.cli.train import TRAIN_COMMAND

    present = {c[0] for c in cli.COMMANDS}
    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, *(c for c in (TRAIN_COMMAND, EVAL_COMMAND) if c[0] not in present)])
    data, out = str(fake_data(tmp_path / "data")), tmp_path / "pixelcnn.safetensors"
    assert cli.main(["--data", data, "--device", "cpu", "train", "pixelcnn", "--channels", "4", "--layers", "2",
                     "--epochs", "1", "--batch-size", "8", "--limit", "16", "--out", str(out), *extra]) == 0
    config = read_config(out, "pixelcnn")
    assert config["data"]["license"] == "CC BY-SA 3.0" and len(config["history"]) == 1
    assert cli.main(["--data", data, "eval", "pixelcnn", "--checkpoint", str(out), "--save"]) == 0
    assert "nats per image" in capsys.readouterr().out
    test = read_config(out)["metrics"]["test"]
    assert test["test_images"] == (10 if not extra else 6) and test["nll_nats"] > 0
    card = out.with_suffix(".md").read_text()
    assert f"{test['nll_nats']:.2f} nats per image" in card and "CC BY-SA 3.0" in card
