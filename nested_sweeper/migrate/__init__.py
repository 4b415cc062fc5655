"""CARBS and W&B sweep files rewritten as nested sweep files, comments kept.

``migrate`` holds the entry points (:func:`~nested_sweeper.migrate.migrate.migrate_text`,
``migrate_main``) and the order of the steps; ``wandb`` and ``carbs`` the steps for each
legacy source; ``place`` where keys and parameters go, and the checks; ``migrator`` the state
they share; ``yaml_edit`` the comment-preserving ruamel.yaml edits.
"""
