"""The rule engine (WEDI SNIP levels 3-5 and 7) and the spinal-cord-stimulator rule pack."""
