"""Exchange internal transfers (seed 004 type 2): what the engine needs from an exchange."""
