"""The operator console under /admin: server-rendered pages (Jinja2), htmx
vendored under /admin/static, no build step, no CDN. Off until an account
exists (`usdtpay admin add`); `admin.bind` serves it on its own listener."""
