"""The bundle's entry point: runbridge over stdio, configured from the bundle's user configuration."""

from runbridge.cli import main

raise SystemExit(main(["serve"]))
