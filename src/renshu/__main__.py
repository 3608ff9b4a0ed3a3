"""``python -m renshu``: the same as the ``renshu`` command."""

from renshu.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
