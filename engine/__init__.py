"""GenScope engine: models, decoding, data, training. Never imports Qt or audio.

Every long operation is a plain generator yielding small frozen events
(see :mod:`engine.events`), so the CLI, the tests and the GUI share one path.
"""

__version__ = "0.1.0"
