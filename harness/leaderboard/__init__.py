"""Leaderboards: tables, plots and a self-contained HTML page from eval_results.jsonl files."""
