"""Start the GenScope desktop application: ``python main.py [--device cpu] [--data DIR]``."""

import sys

from app.main_window import main

if __name__ == "__main__":
    sys.exit(main())
