"""CLI sub-command modules. Each module defines `register(sub)` (adds its
argparse parsers) and `COMMANDS` ({"name sub": fn(settings, args) -> int});
`api.cli` discovers them all."""
