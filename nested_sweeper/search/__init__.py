"""Search methods (grid, random, bayes, protein), their Gaussian process, and the Searcher API."""
