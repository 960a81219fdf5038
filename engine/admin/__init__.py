"""The operator console's core: accounts (password + TOTP), sessions, the
audit log, and operators' decisions on unmatched transfers."""
