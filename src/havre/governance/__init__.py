"""Governance: identity (users, roles, second factors, tokens), projects and permits, opt-outs."""
