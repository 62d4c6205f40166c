"""`python -m patchflow` is the `patchflow` console script."""

from .cli import main

main(prog_name="patchflow")
