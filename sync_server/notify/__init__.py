"""E-mail notifications of alerts to officers (issue 16): rules, outbox, mail, sender, loop."""
