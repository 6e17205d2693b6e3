"""Selection methods, one module each; every module registers its strategy with ``@strategy``.

They are imported lazily by ``harness.select.base.STRATEGIES`` (its ``BUILTIN_MODULES``)
the first time a strategy name is looked up.
"""
