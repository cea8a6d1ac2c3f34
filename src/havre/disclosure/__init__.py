"""Statistical disclosure control: the rules an output must pass before it leaves the hub.

Kept light on purpose (no heavy imports here): import the modules you need, e.g.
``havre.disclosure.check``, ``havre.disclosure.aggregate``, ``havre.disclosure.policy``.
"""
