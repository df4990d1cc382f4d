"""Rule families beyond the core table, each module registering its entries into ``rules.TABLE``.

Modules for optional libraries (``special``: scipy.special's ufuncs) are imported only on demand,
by :func:`dualad.rules.late_rule`, never by ``import dualad``.
"""
