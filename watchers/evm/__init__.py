"""The ERC20 watcher's chain reader (web3 AsyncWeb3, eth_getLogs)."""
