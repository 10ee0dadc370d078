"""``python -m simcore``: the same command line as the ``simcore`` console script."""

from simcore.cli.app import entry

if __name__ == "__main__":
    entry()
