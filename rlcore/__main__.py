from rlcore.cli import entry

entry()
