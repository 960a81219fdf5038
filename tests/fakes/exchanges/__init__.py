"""Exchange API simulators (OKX, Binance, HTX) over real HTTP on loopback."""
