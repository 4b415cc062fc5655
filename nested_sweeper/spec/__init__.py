"""The sweep file read into a SweepSpec: placement rules, CARBS markers, the app's size check."""
