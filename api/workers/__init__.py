"""Background loops of `usdtpay run`: the supervisor and the registry."""
