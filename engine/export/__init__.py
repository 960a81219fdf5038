"""CSV exports for accountants: `service` writes them, `queries` reads the
rows; the names callers use are exported here."""

from engine.export.service import ExportWindow, export_orders, export_settlements

__all__ = ["ExportWindow", "export_orders", "export_settlements"]
