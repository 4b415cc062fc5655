"""CARBS and W&B sweep files rewritten as nested sweep files, comments kept."""
