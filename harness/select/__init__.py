"""Selection: strategy base classes, budgets, the engine, executors and combinators."""
