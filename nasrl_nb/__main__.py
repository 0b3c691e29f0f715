"""``python -m nasrl_nb``: the same command line as the ``nasrl-nb`` script."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
