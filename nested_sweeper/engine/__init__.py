"""The sweep loop: rounds of runs through Hydra's launcher, the study, each run's process."""
