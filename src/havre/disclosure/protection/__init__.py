"""Mitigation of tables: secondary suppression proven by linear programming, controlled rounding.

Tables are handled in their extended shape (see ``havre.disclosure.cells``): every line along
an axis says ``sum(interior) = total`` (or, for person counts of non-additive tables, that the
total lies between the largest cell and the sum of the cells).
"""
