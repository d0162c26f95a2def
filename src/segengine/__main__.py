"""Allow `python -m segengine`."""

from segengine.cli import main

main()
