"""TRC20 USDT on TRON: block scanning over the java-tron HTTP API."""
