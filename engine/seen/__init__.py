"""Transfers seen in blocks that are not final yet (issue 17).

Not part of the books: the watcher replaces a chain's rows each time it
reads the blocks above the final head, so a transfer a reorg drops simply
disappears. Orders are still paid only from final blocks (invariant 3); the
rows only let the cashier page say "payment received, confirming".
"""
