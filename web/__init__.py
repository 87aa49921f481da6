"""The sales console: a web face of Touchpoint beside the CLI.

Pages are rendered on the server from templates with autoescaping on; every change a person
makes here runs through the same core operations as the CLI and the bot (a turn of its own),
so it lands on the customer's timeline with the person as its actor. The console never writes
business rows itself; it keeps only its own sign-in state (links and sessions).
"""
