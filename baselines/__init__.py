"""Selection methods, one module each; every module registers its strategy with ``@strategy``.

Each is declared in ``pyproject.toml`` under the entry-point group ``selbench.strategies``
(``name = "baselines.<module>:<Class>"``), exactly as an outside plugin declares its own;
``harness.select.base.STRATEGIES`` imports a module the first time its name is looked up.
"""
