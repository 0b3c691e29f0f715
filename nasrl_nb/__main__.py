"""``python -m nasrl_nb``: the same command line as the ``nasrl-nb`` script."""

import sys

try:  # Ctrl-C while the command line is still being imported: one line, exit status 130
    from .cli import main
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    sys.exit(130)

if __name__ == "__main__":
    raise SystemExit(main())
