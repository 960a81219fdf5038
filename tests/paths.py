"""Where things are, for tests that start processes or read repository files."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
