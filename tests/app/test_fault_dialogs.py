"""Expected mistakes in the GUI (issue #13): one sentence in a warning box, never the traceback dialog.

File > Open checkpoint reads only the header and checks the settings
before any tab takes the file; a model load on the worker that fails with
a :class:`GenScopeError` shows its sentence without details.
"""

from __future__ import annotations

import json
import struct

import pytest
from PySide6.QtWidgets import QMessageBox

from engine.catalog import load_model
from engine.checkpoints import load_checkpoint, save_checkpoint
from tests.engine.test_faults import ASSETS


def _crafted(tmp_path, asset: str, **hparams):
    ckpt = load_checkpoint(ASSETS / f"{asset}.safetensors")
    return save_checkpoint(tmp_path / f"{asset}.safetensors", ckpt.state_dict,
                           {**ckpt.config, "hparams": {**ckpt.hparams, **hparams}})


def _nested(tmp_path):
    path = tmp_path / "nested.safetensors"
    header = json.dumps({"__metadata__": {"genscope": "[" * 50_000 + "]" * 50_000}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    return path


def _one_sentence(box: QMessageBox) -> str:
    text = box.text()
    assert box.icon() == QMessageBox.Icon.Warning and box.detailedText() == ""
    assert "unexpectedly" not in text and "Traceback" not in text and "\n" not in text
    return text


@pytest.mark.parametrize("make, named", [(lambda p: _crafted(p, "pixelcnn", channels=10**7), "channels"),
                                         (lambda p: _crafted(p, "pixelcnn", height=100000, width=100000), "height"),
                                         (lambda p: _crafted(p, "vae", hidden=["x", "y"]), "hidden"),
                                         (_nested, "nest deeper")])
def test_open_checkpoint_refuses_bad_settings_in_one_sentence(qtbot, make_window, tmp_path, make, named):
    window = make_window()
    opened = []
    window.checkpoint_opened.connect(lambda *a: opened.append(a))
    path = make(tmp_path)
    assert window.open_checkpoint(path) is False
    assert named in _one_sentence(window.findChild(QMessageBox)) and opened == []


def test_a_failed_load_on_the_worker_is_one_sentence(qtbot, make_window, tmp_path):
    window = make_window()
    window.show()
    path = _crafted(tmp_path, "wavenet", residual=10**6)

    def load():
        yield load_model(path)

    window.context.worker.submit(load, name="Loading the model")
    qtbot.waitUntil(lambda: window.findChild(QMessageBox) is not None, timeout=5000)
    assert "residual" in _one_sentence(window.findChild(QMessageBox))
