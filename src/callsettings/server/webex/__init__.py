"""The Webex REST dialect."""
