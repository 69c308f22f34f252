"""Where shoppers reach Porter: the storefront widget (Rasa's socket.io), Telegram and WhatsApp."""
