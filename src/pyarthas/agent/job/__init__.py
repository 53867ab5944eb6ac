"""Jobs: ids, status, foreground and background, interrupt, timeouts."""
