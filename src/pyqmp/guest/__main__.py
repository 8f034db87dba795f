"""``python -m pyqmp.guest``: run the guest process."""

import sys

from .main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
