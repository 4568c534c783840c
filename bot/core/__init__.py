"""The conversation engine: channel-neutral messages in, replies out. No Telegram or Slack here."""
