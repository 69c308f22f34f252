"""Porter's web server (`python -m bot web`): the storefront demo page with the chat widget, and later the
agent desk. Each is a Sanic blueprint mounted by `bot.web.app.create_app`."""
