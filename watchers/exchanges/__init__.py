"""Read-only clients for exchange receiving accounts (OKX, Binance, HTX).

Each client signs its requests the way its exchange documents, keeps to a
documented request budget, honours the exchange's rate-limit and ban
answers, re-syncs its clock on a timestamp error, and turns the exchange's
records into `engine.exchanges.ports.ExchangeRecord`s.
"""
