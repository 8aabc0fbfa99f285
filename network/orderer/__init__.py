"""The ordering service: block cutter, consenters, broadcast and deliver."""
