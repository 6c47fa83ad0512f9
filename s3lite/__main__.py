"""``python -m s3lite``: the command line (see ``s3lite._cli``)."""

import sys

from s3lite._cli import main

if __name__ == "__main__":
    sys.exit(main())
